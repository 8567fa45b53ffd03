"""The reference store: a read-only folder of finished run records shipped with the code, from
which the book's pages render without training.

Layout (the records of a results folder, no weights or caches):

    reference/runs/<run_id>.json           finished records (ok or diverged), as `ResultStore` writes them
    reference/failed/<run_id>.json         the last failed record of a run not finished yet (not read as a result)
    reference/probes/<kind>/<key>.json     probe records (`repro.generality.mlm_probe.ProbeStore`)
    reference/remade/<run_id>@<cpu>.json   a stored run made again on another CPU model (to recover
                                           the tuned weights a later run starts from) whose result
                                           differs from runs/'s in more than rounding: the run
                                           that later runs on that CPU model started from
    reference/INDEX.json                   counts: records per status, task and (given grids) section

`export` is its only writer: it copies a results folder's records in and never overwrites a
finished or probe record (an identical one is skipped; so is a run record that reproduces the
reference's, `same_result`: a run re-run to get its weights back for a section-4 page or diff
pruning; one re-made on another CPU model with another result goes to remade/, never over runs/;
any other difference is an error that names it, and then nothing is copied). A failed record is
replaced by a newer failure and removed when its run's finished record arrives.
`ResultStore(root, reference)` reads runs/ after `root`; remade/ is read only by `remade_runs`.
"""
from __future__ import annotations

import json
import re
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from repro.files import atomic_target
from repro.runs.config import RESULTS_VERSION, RunConfig
from repro.runs.grid_files import SECTIONS, load_grid
from repro.runs.store import FINISHED, RunResult, read_record, same_cpu, same_result

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "reference"  # the repository's reference/
RUNS, FAILED, PROBES, REMADE, INDEX = "runs", "failed", "probes", "remade", "INDEX.json"


@dataclass
class ExportReport:
    """What `export` did: relative paths copied, skipped as identical, and failed records
    replaced or removed; `unreadable`: result files of the results folder it could not read."""

    copied: list[str] = field(default_factory=list)
    identical: list[str] = field(default_factory=list)
    reproduced: list[str] = field(default_factory=list)  # run records re-made with the reference's result
    remade: list[str] = field(default_factory=list)  # re-made on another CPU model, another result: under remade/
    failed_marked: list[str] = field(default_factory=list)
    failed_cleared: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.copied)} record(s) copied, {len(self.identical)} identical skipped, "
                f"{len(self.reproduced)} re-run with the reference's result skipped, "
                f"{len(self.remade)} re-made on another CPU model with another result kept under {REMADE}/, "
                f"{len(self.failed_marked)} failed run(s) marked under {FAILED}/, {len(self.failed_cleared)} "
                f"failure mark(s) cleared, {len(self.unreadable)} unreadable result file(s) left out")


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _planned_copies(results_dir: Path, reference_dir: Path, report: ExportReport) -> dict[str, Path]:
    """Relative target path -> source file of every record to copy; raises ValueError naming
    every record that differs from the reference's (nothing is copied then)."""
    copies, conflicts = {}, []
    sources = [(path, f"{RUNS}/{path.name}") for path in sorted((results_dir / RUNS).glob("*.json"))]
    sources += [(path, path.relative_to(results_dir).as_posix())
                for path in sorted((results_dir / PROBES).glob("*/*.json"))]
    for source, relative in sources:
        if relative.startswith(RUNS):
            try:
                record = read_record(source)
            except (ValueError, TypeError, KeyError, UnicodeDecodeError):
                report.unreadable.append(relative)
                continue
            target = reference_dir / relative
            if record.status not in FINISHED:
                relative = f"{FAILED}/{source.name}"
            elif target.exists() and _json(target) != _json(source):
                stored = read_record(target)
                if same_result(stored, record):
                    report.reproduced.append(relative)
                    continue
                if remade_elsewhere(stored, record):
                    relative = f"{REMADE}/{remade_name(record)}"
        target = reference_dir / relative
        if relative.startswith(FAILED) or not target.exists():
            copies[relative] = source
        elif _json(target) == _json(source):
            report.identical.append(relative)
        else:
            conflicts.append(relative)
    if conflicts:
        raise ValueError(f"{len(conflicts)} record(s) of {results_dir} differ from the reference's, which are never "
                         f"overwritten; nothing was copied. First: {reference_dir / conflicts[0]} "
                         f"(run or probe {Path(conflicts[0]).stem}); all: {', '.join(conflicts[:20])}")
    return copies


def remade_elsewhere(stored: RunResult, new: RunResult) -> bool:
    """Whether `new` is `stored`'s run made again from the same data on another CPU model
    (named in `new`), where floating-point rounding may change a result."""
    return (new.config.run_id() == stored.config.run_id() and new.data_fingerprint == stored.data_fingerprint
            and new.environment.get("cpu") is not None and not same_cpu(stored, new))


def remade_name(record: RunResult) -> str:
    """`<run_id>@<cpu model, lower case, runs of other characters as ->.json`."""
    cpu = re.sub(r"[^a-z0-9]+", "-", str(record.environment.get("cpu")).lower()).strip("-")
    return f"{record.config.run_id()}@{cpu}.json"


def remade_runs(reference_dir: str | Path) -> dict[str, list[RunResult]]:
    """Run id -> the records under `remade/` of that run (made again on other CPU models with
    another result than its record in runs/)."""
    remade: dict[str, list[RunResult]] = {}
    for path in sorted((Path(reference_dir) / REMADE).glob("*.json")):
        record = read_record(path)
        remade.setdefault(record.config.run_id(), []).append(record)
    return remade


def started_from_remade(results: list[RunResult], reference_dir: str | Path) -> list[RunResult]:
    """Those of `results` that started from a run's tuned weights (a secondary run's `init_from`,
    diff pruning's L1 run) made again on the CPU model they ran on, with another result than the
    record in runs/ (`remade_runs`)."""
    remade = remade_runs(reference_dir)

    def from_remade(result: RunResult) -> bool:
        starts = {result.config.init_from, result.selection.get("stat_pruning_run")}
        return any(same_cpu(again, result) for start in starts if start in remade for again in remade[start])

    return [result for result in results if from_remade(result)]


def export(results_dir: str | Path, reference_dir: str | Path = REFERENCE_DIR,
           grids_dir: str | Path | None = None) -> ExportReport:
    """Copy the records of a results folder into the reference (JSON only: run records, failed
    ones under `failed/`, probe records), then rewrite `INDEX.json` (`index`, with per-section
    counts of the grid files in `grids_dir`). ValueError for a missing results folder or a
    record that differs from the reference's (see the module)."""
    results_dir, reference_dir = Path(results_dir), Path(reference_dir)
    if not (results_dir / RUNS).is_dir():
        raise ValueError(f"results folder {results_dir} has no {RUNS}/ folder: nothing to export")
    if results_dir.resolve() == reference_dir.resolve():
        raise ValueError(f"results folder and reference are both {results_dir}")
    report = ExportReport()
    for relative, source in _planned_copies(results_dir, reference_dir, report).items():
        target = reference_dir / relative
        if relative.startswith(FAILED):
            if (reference_dir / RUNS / source.name).exists():
                continue  # finished in the reference already: a later failure is not news
            report.failed_marked.append(relative)
        else:
            (report.remade if relative.startswith(REMADE) else report.copied).append(relative)
        with atomic_target(target) as tmp:
            tmp.write_bytes(source.read_bytes())
    for marker in sorted((reference_dir / FAILED).glob("*.json")):
        if (reference_dir / RUNS / marker.name).exists():
            marker.unlink()
            report.failed_cleared.append(f"{FAILED}/{marker.name}")
    write_index(reference_dir, grids_dir)
    return report


def reference_records(reference_dir: str | Path) -> dict[str, RunResult]:
    """Run id -> record of every readable finished record of a reference (`runs/*.json`); an
    unreadable one is left out with a warning, and the reference is not changed."""
    records = {}
    for path in sorted((Path(reference_dir) / RUNS).glob("*.json")):
        try:
            records[path.stem] = read_record(path)
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as error:
            warnings.warn(f"reference record {path} is unreadable and left out: {type(error).__name__}: {error}",
                          stacklevel=2)
    return records


def write_index(reference_dir: Path, grids_dir: str | Path | None = None) -> dict:
    """Rewrite `<reference>/INDEX.json` atomically with `index` and return it."""
    data = index(reference_dir, grids_dir)
    with atomic_target(Path(reference_dir) / INDEX) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return data


def index(reference_dir: Path, grids_dir: str | Path | None = None) -> dict:
    """Counts of a reference: finished records per status, model and task, failed marks, probe
    records per kind, the code commits the records were made by (and how many with uncommitted
    changes to tracked files), and with `grids_dir` per grid
    file `<section>.yaml` the records that belong to it (`section_counts`)."""
    reference_dir = Path(reference_dir)
    records = list(reference_records(reference_dir).values())
    data = {"results_version": RESULTS_VERSION, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "runs": len(records), "status": dict(Counter(r.status for r in records)),
            "tasks": dict(Counter(f"{r.config.model}/{r.config.task}" for r in records)),
            "secondary_runs": sum(r.config.init_from is not None for r in records),
            "failed_marked": len(list((reference_dir / FAILED).glob("*.json"))),
            "remade_elsewhere": len(list((reference_dir / REMADE).glob("*.json"))),
            "probes": dict(Counter(p.parent.name for p in (reference_dir / PROBES).glob("*/*.json"))),
            "commits": dict(Counter(str(r.environment.get("git_commit")) for r in records)),
            "from_uncommitted_changes": sum(bool(r.environment.get("git_dirty")) for r in records)}
    if grids_dir is not None:
        data["sections"] = section_counts([r.config for r in records], Path(grids_dir))
    return data


def _study_key(config: RunConfig) -> str:
    """A run's identity without its learning rate and start: what a grid's cell fixes."""
    fields = {k: v for k, v in config.to_dict().items() if k not in ("learning_rate", "init_from")}
    return json.dumps(fields, sort_keys=True)


def section_counts(configs: list[RunConfig], grids_dir: Path) -> dict[str, dict[str, int]]:
    """Per grid file `<grids_dir>/<section>.yaml`: how many of `configs` are runs of its grid
    (`grid`), of its cells at rates it did not list (`extended`: edge extensions) and secondary
    runs from a tuned encoder onto one of its base runs (`secondary`), out of the grid's runs
    (`grid_runs`). A run shared by two sections counts in both."""
    counts = {}
    for section in SECTIONS:
        path = grids_dir / f"{section}.yaml"
        if not path.exists():
            continue
        grid = load_grid(path)
        grid_configs = [c for source in sorted({c.data_source for c in configs}) for c in grid.configs(source)]
        ids, cells = {c.run_id() for c in grid_configs}, {_study_key(c) for c in grid_configs}
        mine = Counter("secondary" if c.init_from is not None else "grid" if c.run_id() in ids else "extended"
                       for c in configs if _study_key(c) in cells)
        counts[section] = {"grid_runs": len(ids), "grid": mine["grid"], "extended": mine["extended"],
                           "secondary": mine["secondary"]}
    return counts
