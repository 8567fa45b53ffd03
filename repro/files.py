"""Atomic file writes: a reader never sees a half-written result or cache file.

Every file the project writes (results, probes, caches, weights) gets one permission policy:
readable by everyone the umask allows (0666 & ~umask), as a plain `open` would create it.
An interrupted write leaves a hidden `.<name>.<random>.tmp` beside its target; sweeps remove
those at their next start (`remove_stray_temporaries`).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

TMP_SUFFIX = ".tmp"
STRAY_AFTER_S = 15 * 60  # a temporary untouched this long belongs to no live writer


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_target(path: Path):
    """Yield a temporary path beside `path`; when the block succeeds it replaces `path`
    in one `os.replace` (with the project's permissions), and when it fails the temporary
    file is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    os.close(handle)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # after the writer: some libraries recreate the file (mkstemp: 0600)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove_stray_temporaries(folder: Path, older_than_s: float = STRAY_AFTER_S) -> list[Path]:
    """Delete the temporaries of interrupted atomic writes under `folder` (untouched for
    `older_than_s` seconds, so a write in progress elsewhere is left alone); returns them."""
    if not folder.is_dir():
        return []
    cutoff = time.time() - older_than_s
    stray = [p for p in folder.rglob(f".*{TMP_SUFFIX}") if p.is_file() and p.stat().st_mtime < cutoff]
    for path in stray:
        path.unlink(missing_ok=True)
    return stray
