"""Results store: one JSON file per run, named by the config's hash, written atomically.

A result file that cannot be read (empty, truncated, not JSON, a key missing) or that was made
from other data than the data folder holds now is never used: it is moved to
`<root>/quarantine/` beside a `.reason` file saying why, a warning names it, and the run is
computed again.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from repro.runs.config import RunConfig
from repro.files import CACHE, QUARANTINE, atomic_target, set_aside

RESULT_KEYS = ("config", "status", "metrics", "timings", "selection", "reason", "environment")

STATUSES = ("ok", "diverged", "failed")
FINISHED = ("ok", "diverged")  # a failed run is retried by the next sweep


@dataclass
class RunResult:
    """What one run produced. `status` is ok, diverged or failed (then `reason` says why).
    `training`: the loss curve (`loss_trace`, 20 points) and the divergence rule's values
    (`divergence`, repro.training.divergence) of a run that trained. `data_fingerprint`: the
    fingerprint of the task data it read (None when it failed before reading it)."""

    config: RunConfig
    status: str
    metrics: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    selection: dict = field(default_factory=dict)
    reason: str | None = None
    environment: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    data_fingerprint: str | None = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} must be one of {STATUSES}")

    def to_dict(self) -> dict:
        return {"run_id": self.config.run_id(), "config": self.config.to_dict(), "status": self.status,
                "reason": self.reason, "metrics": self.metrics, "timings": self.timings,
                "selection": self.selection, "environment": self.environment, "training": self.training,
                "data_fingerprint": self.data_fingerprint}

    @classmethod
    def from_dict(cls, data: dict) -> "RunResult":
        """Raises ValueError naming the first missing key."""
        missing = [key for key in RESULT_KEYS if key not in data]
        if missing:
            raise ValueError(f"missing key {missing[0]!r}")
        return cls(RunConfig.from_dict(data["config"]), data["status"], data["metrics"], data["timings"],
                   data["selection"], data["reason"], data["environment"], data.get("training", {}),
                   data.get("data_fingerprint"))


def environment_info() -> dict:
    """Package versions and the git commit, recorded with every result."""
    import torch
    import transformers

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "git_commit": commit, "machine": platform.machine()}


class ResultStore:
    """A folder of results: `<root>/runs/<run_id>.json`, plus caches under `<root>/cache/`."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    @property
    def cache_dir(self) -> Path:
        return self.root / CACHE

    @property
    def quarantine_dir(self) -> Path:
        """Where damaged or stale results and cache files are set aside (`repro.files.set_aside`)."""
        return self.root / QUARANTINE

    def path_for(self, config: RunConfig) -> Path:
        return self.root / "runs" / f"{config.run_id()}.json"

    def weights_path(self, config: RunConfig) -> Path:
        """Where a finished run's tuned weights are kept (`repro.training.tuned_weights`)."""
        return self.cache_dir / "tuned" / f"{config.run_id()}.safetensors"

    def load(self, config: RunConfig) -> RunResult | None:
        return self.load_by_id(config.run_id())

    def load_by_id(self, run_id: str) -> RunResult | None:
        """The stored result, or None when there is none or its file is damaged (quarantined)."""
        path = self.root / "runs" / f"{run_id}.json"
        return self._read(path) if path.exists() else None

    def _read(self, path: Path) -> RunResult | None:
        try:
            return RunResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
            set_aside(path, self.quarantine_dir, f"unreadable result file: {type(error).__name__}: {error}")
            return None

    def quarantine(self, config: RunConfig, reason: str) -> None:
        """Move a run's stored result aside (it is then computed again), saying why."""
        path = self.path_for(config)
        if path.exists():
            set_aside(path, self.quarantine_dir, reason)

    def is_finished(self, config: RunConfig) -> bool:
        result = self.load(config)
        return result is not None and result.status in FINISHED

    def write(self, result: RunResult) -> Path:
        path = self.path_for(result.config)
        with atomic_target(path) as tmp:
            tmp.write_text(json.dumps(result.to_dict(), indent=1, sort_keys=True))
        return path

    def results(self) -> list[RunResult]:
        """Every readable result (damaged files are quarantined and left out)."""
        read = (self._read(p) for p in sorted((self.root / "runs").glob("*.json")))
        return [result for result in read if result is not None]

    def to_frame(self) -> pd.DataFrame:
        """One row per run: config fields, status, reason, and metrics/timings/selection
        flattened with prefixes (e.g. `metric_test`, `time_train_s`, `sel_k`). Column
        `selector` holds the variant name (`RunConfig.variant`, e.g. "full+l1:0.01"); `init_from`
        is None except for runs that started from another run's encoder (secondary tasks)."""
        rows = []
        for result in self.results():
            row = {"init_from": None, **{k: v for k, v in result.config.to_dict().items() if k != "decoder"}}
            row["selector"] = result.config.variant  # penalised variants are their own rows
            row.update(run_id=result.config.run_id(), status=result.status, reason=result.reason)
            row.update({f"metric_{k}": v for k, v in result.metrics.items()})
            row.update({f"time_{k}": v for k, v in result.timings.items()})
            row.update({f"sel_{k}": v for k, v in result.selection.items()})
            rows.append(row)
        return pd.DataFrame(rows)
