"""Results store: one JSON file per run, named by the config's hash, written atomically.

A result file that cannot be read (empty, truncated, not JSON, a key missing) or that was made
from other data than the data folder holds now is never used: it is moved to
`<root>/quarantine/` beside a `.reason` file saying why, a warning names it, and the run is
computed again.

A store may also read a *reference store* (`repro.runs.reference`): a read-only folder of
finished records in the same layout (`<reference>/runs/<run_id>.json`), never written, moved
or deleted by it. A reference record that cannot be read, or that was made from other data,
is ignored (with a warning) for the store's lifetime instead of being quarantined.
"""
from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from repro.runs.config import RunConfig
from repro.files import CACHE, QUARANTINE, atomic_target, set_aside

RESULT_KEYS = ("config", "status", "metrics", "timings", "selection", "reason", "environment")

STATUSES = ("ok", "diverged", "failed")
FINISHED = ("ok", "diverged")  # a failed run is retried by the next sweep
RESULTS, REFERENCE = "results", "reference"  # where a stored record was read from


class NotComputed(RuntimeError):
    """A run or record that is in neither the results folder nor the reference store, asked for
    in a workspace that does not train (`repro.runs.run.Workspace.train` False)."""


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


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_info() -> dict:
    """Package versions, the git commit and whether tracked files differed from it (`git_dirty`;
    None outside a git checkout), and the CPU model (float results can differ between CPU models),
    recorded with every result."""
    import torch
    import transformers

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD") or None
    changes = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "git_commit": commit,
            "git_dirty": None if changes is None else bool(changes), "machine": platform.machine(), "cpu": cpu_model()}


class ResultStore:
    """A folder of results: `<root>/runs/<run_id>.json`, plus caches under `<root>/cache/`;
    with `reference`, also the records of that read-only reference store.

    A run's record is its own folder's when that one finished (ok or diverged), else the
    reference's when there is one, else its own folder's (failed). Writes, quarantine and
    caches only ever touch `root`."""

    def __init__(self, root: str | os.PathLike, reference: str | os.PathLike | None = None):
        self.root = Path(root)
        self.reference = None if reference is None else Path(reference)
        self._ignored: dict[str, str] = {}  # reference run id -> why it is not used
        self._reference_cache: dict[str, tuple[tuple[int, int], RunResult]] = {}

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
        """The stored result (see the class), or None when there is none or its file is damaged
        (quarantined when it is the results folder's, ignored when it is the reference's)."""
        return self.locate(run_id)[0]

    def locate(self, run_id: str) -> tuple[RunResult | None, str | None]:
        """The stored result and where it was read from (`RESULTS` or `REFERENCE`; None, None
        when there is none)."""
        path = self.root / "runs" / f"{run_id}.json"
        own = self._read(path) if path.exists() else None
        if own is not None and own.status in FINISHED:
            return own, RESULTS
        reference = self._reference_record(run_id)
        if reference is not None:
            return reference, REFERENCE
        return (own, RESULTS) if own is not None else (None, None)

    def _read(self, path: Path) -> RunResult | None:
        try:
            return read_record(path)
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
            set_aside(path, self.quarantine_dir, f"unreadable result file: {type(error).__name__}: {error}")
            return None

    def _reference_record(self, run_id: str) -> RunResult | None:
        """The reference's record of `run_id` (read once while its file is unchanged), None when
        there is none or it is ignored."""
        if self.reference is None or run_id in self._ignored:
            return None
        path = self.reference / "runs" / f"{run_id}.json"
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        state = (stat.st_mtime_ns, stat.st_size)
        cached = self._reference_cache.get(run_id)
        if cached is not None and cached[0] == state:
            return cached[1]
        try:
            result = read_record(path)
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as error:
            self.ignore_reference(run_id, f"unreadable reference record: {type(error).__name__}: {error}")
            return None
        self._reference_cache[run_id] = (state, result)
        return result

    def ignore_reference(self, run_id: str, reason: str) -> None:
        """Leave the reference's record of `run_id` unused by this store from now on, and warn
        why; the reference itself is not changed."""
        self._ignored[run_id] = reason
        warnings.warn(f"reference record {self.reference / 'runs' / f'{run_id}.json'} ignored (the reference is "
                      f"read-only and left as it is): {reason}", stacklevel=3)

    def quarantine(self, config: RunConfig, reason: str) -> None:
        """Set aside the record `load` returns (it is then computed again), saying why: moved to
        the quarantine when it is the results folder's, ignored when it is the reference's."""
        _, source = self.locate(config.run_id())
        if source == REFERENCE:
            self.ignore_reference(config.run_id(), reason)
        elif source == RESULTS:
            set_aside(self.path_for(config), self.quarantine_dir, reason)

    def is_finished(self, config: RunConfig) -> bool:
        result = self.load(config)
        return result is not None and result.status in FINISHED

    def write(self, result: RunResult) -> Path:
        path = self.path_for(result.config)
        with atomic_target(path) as tmp:
            tmp.write_text(json.dumps(result.to_dict(), indent=1, sort_keys=True))
        return path

    def run_ids(self) -> list[str]:
        """Every run id with a record file in the results folder or the reference, sorted."""
        folders = [self.root / "runs"] + ([self.reference / "runs"] if self.reference is not None else [])
        return sorted({path.stem for folder in folders for path in folder.glob("*.json")})

    def located_results(self) -> list[tuple[RunResult, str]]:
        """Every readable result (`load_by_id` of each of `run_ids`) with where it was read from."""
        located = (self.locate(run_id) for run_id in self.run_ids())
        return [(result, source) for result, source in located if result is not None]

    def results(self) -> list[RunResult]:
        """Every readable result of the results folder and the reference (damaged files are
        quarantined or ignored and left out)."""
        return [result for result, _ in self.located_results()]

    def to_frame(self) -> pd.DataFrame:
        """One row per run: config fields (`config_row`), status, reason, `source` (where the
        record was read: "results" or "reference"), and metrics/timings/selection flattened with
        prefixes (e.g. `metric_test`, `time_train_s`, `sel_k`). Column `selector` holds the variant
        name (`RunConfig.variant`, e.g. "full+l1:0.01"); `init_from` is None except for runs that
        started from another run's encoder (secondary tasks)."""
        rows = []
        for result, source in self.located_results():
            row = config_row(result.config)
            row.update(status=result.status, reason=result.reason, source=source)
            row.update({f"metric_{k}": v for k, v in result.metrics.items()})
            row.update({f"time_{k}": v for k, v in result.timings.items()})
            row.update({f"sel_{k}": v for k, v in result.selection.items()})
            rows.append(row)
        return pd.DataFrame(rows)


def read_record(path: Path) -> RunResult:
    """A result file's RunResult; raises ValueError/TypeError/KeyError/UnicodeDecodeError when it
    cannot be read."""
    return RunResult.from_dict(json.loads(path.read_text(encoding="utf-8")))


# Metrics that are floats of a computation rather than ratios of counts: on another CPU model (or one not
# recorded) the same run rounds differently in them (e.g. 0.34384835 vs 0.34384844 on Intel Xeon vs AMD EPYC),
# usually while the scores, made of predictions, stay identical; scores are always compared exactly.
CONTINUOUS_METRICS = {"final_train_loss": 1e-5}  # name -> relative tolerance across CPU models


def same_cpu(a: RunResult, b: RunResult) -> bool:
    """Whether both records name the same CPU model (False when either does not name one)."""
    return a.environment.get("cpu") is not None and a.environment.get("cpu") == b.environment.get("cpu")


def metric_agrees(name: str, stored, new, same_machine: bool) -> bool:
    """Equal; or, across CPU models, a `CONTINUOUS_METRICS` value within its relative tolerance."""
    if stored == new:
        return True
    tolerance = CONTINUOUS_METRICS.get(name)
    return (not same_machine and tolerance is not None and isinstance(stored, float) and isinstance(new, float)
            and math.isclose(stored, new, rel_tol=tolerance))


def same_result(stored: RunResult, new: RunResult) -> bool:
    """Whether `new` reproduces `stored`: the same run id, status and data fingerprint, and every
    metric of `stored` in `new` and agreeing (`metric_agrees`: equal, or a continuous metric within
    rounding when the CPU models differ); a metric only newer code records may be extra. Timings,
    environment and commit may differ."""
    machine = same_cpu(stored, new)
    return (stored.config.run_id() == new.config.run_id() and stored.status == new.status
            and stored.data_fingerprint == new.data_fingerprint
            and all(name in new.metrics and metric_agrees(name, value, new.metrics[name], machine)
                    for name, value in stored.metrics.items()))


def config_row(config: RunConfig) -> dict:
    """A run's config as a table row: every field (`decoder` as sorted JSON text, `init_from`
    None when unset), `selector` replaced by the variant name, and `run_id`."""
    row = {"init_from": None, **config.to_dict()}
    row["decoder"] = json.dumps(row["decoder"], sort_keys=True)
    row.update(selector=config.variant, run_id=config.run_id())  # penalised variants are their own rows
    return row
