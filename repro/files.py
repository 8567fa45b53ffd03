"""Files the project writes: atomic (a reader never sees a half-written result or cache file),
with one permission policy, and set aside rather than deleted when damaged.

Every file the project writes (results, probes, caches, weights) gets one permission policy:
readable by everyone the umask allows (0666 & ~umask), as a plain `open` would create it.
An interrupted write leaves a hidden `.<name>.<random>.tmp` beside its target; sweeps remove
those at their next start (`remove_stray_temporaries`).

A file that cannot be read (empty, truncated, not its format) or that must not be used (a result
made from other data) is never deleted: `set_aside` moves it to the results folder's
`quarantine/`, beside a `.reason` file saying why, and warns naming it; the caller computes it
again. Caches live in `<results>/cache/<kind>/`, so their quarantine is `<results>/quarantine/`
(`quarantine_of`), the same folder as the results store's.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")
TMP_SUFFIX = ".tmp"
CACHE, QUARANTINE = "cache", "quarantine"  # folders of a results folder
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


def set_aside(path: Path, quarantine_dir: Path, reason: str) -> Path:
    """Move `path` into `quarantine_dir` (replacing an older file of that name) with a
    `<name>.reason` file holding `reason`, warn naming both, and return where it went."""
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = quarantine_dir / path.name
    os.replace(path, target)
    with atomic_target(quarantine_dir / f"{path.name}.reason") as tmp:
        tmp.write_text(reason + "\n")
    warnings.warn(f"{path} set aside to {target}: {reason}", stacklevel=3)
    return target


def quarantine_of(path: Path) -> Path:
    """The quarantine folder of a file under a results folder's cache: `<results>/quarantine`
    for `<results>/cache/...`; for a file under no folder named `cache`, `quarantine/` beside it."""
    for folder in path.parents:
        if folder.name == CACHE:
            return folder.parent / QUARANTINE
    return path.parent / QUARANTINE


def read_or_set_aside(path: Path, read: Callable[[Path], T]) -> T | None:
    """`read(path)` of a cache file; None when there is no file, or when reading it raised: the
    file is then damaged (empty, truncated, another format) and is set aside (`set_aside`, into
    `quarantine_of(path)`), so that the caller computes it again. `read` must only parse the file
    and check its contents: whatever it raises is taken for damage."""
    if not path.exists():
        return None
    try:
        return read(path)
    except Exception as error:  # noqa: BLE001 - every way a file can be damaged (formats raise their own types)
        set_aside(path, quarantine_of(path), f"unreadable cache file: {type(error).__name__}: {error}; computed again")
        return None
