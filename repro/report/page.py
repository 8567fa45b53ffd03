"""What every book page shows around its results: the settings it ran with, the data notes,
and a closing line that says what ran, how it ended, what was computed and what reused, and
with which code (commit), when, on which machine and for how many minutes.

A page starts with `Page.start` right after its parameters; the start records which result files
the results folder already held, so the closing line calls reused only runs whose result was
there before and was not rewritten (a failed run is retried, so it is not reused). The start
refuses papermill parameters the page does not declare (`repro.report.parameters`); the page ends with
`Page.finish`, which shows the closing line and then raises when any of its runs failed, so that
a page with missing numbers is never published.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from repro.data import load_task
from repro.generality.mlm_probe import MLMProbeConfig
from repro.report.parameters import check_parameters
from repro.runs.config import RunConfig
from repro.runs.executors import ExecutorConfig, executor_config
from repro.runs.grid_extension import LR_CAP
from repro.runs.grid_files import Grid, section_grid
from repro.runs.reference import REFERENCE_DIR, REMADE, started_from_remade
from repro.runs.run import Workspace
from repro.runs.store import REFERENCE, STATUSES, RunResult, cpu_model
from repro.runs.study import Study, as_list
from repro.runs.sweep import failure_report
from repro.variants.registry import variant_fields, variant_named

REFERENCE_PROFILE = "reference"  # the profile of the committed reference store's grids (grids/reference/)
NEEDS_DOWNSTREAM = {"largest_downstream_sqgrad", "combined"}  # selectors that read the downstream Fisher
NEEDS_PRETRAINING = {"largest_pretrain_sqgrad", "combined"}  # ... and the pretraining one
OWNED_ROWS = {"pruning_l1": "diff pruning: L1 coefficient of its full fine-tuning run",
              "pruning_learning_rate": "diff pruning (with re-training): that run's learning rate"}


@dataclass(frozen=True)
class Page:
    """One execution of a book page: its section's grid (`repro.runs.grid_files`; None for a
    page without one), workspace and executor, when it started, and the result files the results
    folder held then (`existing`: run id -> `stored_runs` stamp)."""

    grid: Grid | None
    workspace: Workspace
    executor: ExecutorConfig
    started: float
    existing: Mapping[str, tuple[int, int]]

    @classmethod
    def start(cls, section: str | None, profile: str | None, results_dir, data_dir=None,
              executor: str = "serial", *, retrain: bool | str | None = None, reference_dir=None) -> "Page":
        """Read the section's grid for the profile (`section_grid`), open the workspace
        (`Workspace.create`), build the executor from its string (`executor_config`, e.g.
        "slurm:partition=gpu,cpus=4": Slurm's resources default to the profile's) and note the
        time and the results already stored. ValueError for an unknown section, profile or
        executor setting, and for a papermill parameter the page does not declare (`check_parameters`).

        Where results come from (`page_source`): unless `retrain` is True the page reads the
        reference store (`reference_dir`, default the repository's `reference/`) after
        `results_dir`, and `profile` None means "reference" when that store holds records, else
        "cpu". `retrain` None: train what neither store holds, except on the profile "reference"
        (its runs are the committed ones: missing ones are pending); False: train nothing (show
        what is stored, the rest pending); True: ignore the reference store and train what
        `results_dir` lacks; "missing": read the reference store and train what neither store
        holds, on any profile (how the reference itself is extended)."""
        check_parameters()
        profile, reference, train = page_source(profile, retrain, reference_dir)
        grid = section_grid(section, profile) if section is not None else None
        runner = executor_config(executor, profile)
        workspace = Workspace.create(results_dir, data_dir, reference_dir=reference, train=train)
        return cls(grid, workspace, runner, time.perf_counter(), stored_runs(workspace))

    @property
    def trains(self) -> bool:
        """Whether this page trains what is missing (False: it shows the stored runs, the rest pending)."""
        return self.workspace.train

    @property
    def profile(self) -> str | None:
        return None if self.grid is None else self.grid.profile

    def tasks(self, given=None) -> list[str]:
        """The page's tasks: `given` (a list or a papermill string "sst2,trec6"), else the grid's."""
        return list(self.grid.tasks) if given is None else [str(t) for t in as_list(given, "tasks")]

    def secondary_tasks(self, given=None) -> list[str]:
        """Section 4's secondary tasks: `given` (a list or a papermill string), else the grid's."""
        return list(self.grid.secondary_tasks) if given is None else [str(t) for t in as_list(given, "secondary_tasks")]

    def extend_edges(self, given: bool | None = None) -> bool:
        """Whether to apply the paper's edge rule: `given`, else the grid's `extend_edges`."""
        return self.grid.extend_edges if given is None else bool(given)

    def studies(self, tasks: Iterable[str], **overrides) -> dict[str, Study]:
        """Per task, the grid's study with the overrides that are not None (`Grid.study`)."""
        return {task: self.grid.study(task, **overrides) for task in tasks}

    def settings(self, studies: Study | Mapping[str, Study], *, extend_edges: bool, secondary_tasks=None,
                 probe: MLMProbeConfig | None = None, extra: Mapping[str, object] | None = None):
        """The settings table of `studies` (one Study, or one per task), with section 4's
        secondary tasks and MLM probe when given; `extra` rows come before the executor. Returns
        a pandas Styler (long values are not cut; `.data` is the frame)."""
        rows = settings_rows(self, as_studies(studies), extend_edges)
        if secondary_tasks is not None:
            rows["secondary tasks"] = ", ".join(secondary_tasks)
            rows["secondary learning rate"] = "full fine-tuning's, chosen once on the pretrained encoder per task"
        if probe is not None:
            rows["MLM probe"] = probe_setting(probe)
        rows.update(extra or {})
        rows.update({"executor": self.executor.describe(),
                     "device": f"{self.workspace.device} ({machine(self.workspace.device)})"})
        return pd.Series(rows, name="setting", dtype=object).to_frame().style

    def data_notes(self, tasks: Iterable[str]) -> str:
        """Markdown: every data note of `tasks` (what was substituted or changed), "" when none."""
        return "\n\n".join(f"**Data note ({task}).** {note}" for task in dict.fromkeys(tasks)
                           for note in load_task(task, self.workspace.data_dir).notes)

    def runs(self, configs: Iterable[RunConfig]) -> pd.DataFrame:
        """The stored rows (`ResultStore.to_frame`) of `configs`."""
        frame = self.workspace.store.to_frame()
        return frame[frame["run_id"].isin({c.run_id() for c in configs})] if not frame.empty else frame

    def footer(self, *used, note: str = "") -> str:
        """Markdown: the closing provenance line. The page's runs are those named in `used`
        (lists of RunConfig, {task: {seed: RunConfig}} base runs, or frames with a `run_id` and
        maybe a `secondary_run_id` column) and every run written since the page started;
        reused are the named ones whose result was stored before it started and not rewritten
        since. `note` ends the line."""
        results, reused, referenced = self._page_runs(used)
        return provenance(self, results, reused=reused, referenced=referenced, note=note)

    def finish(self, *used, note: str = "") -> None:
        """Show the closing line (`footer`), then raise RuntimeError, listing the failures, when
        any run of the page failed, or when it had runs and none finished ok: a page whose
        numbers are missing is never published (papermill stops, and the book refuses a failed
        notebook). The next execution reuses the finished runs and retries the failed ones."""
        from IPython.display import Markdown, display

        results, reused, referenced = self._page_runs(used)
        display(Markdown(provenance(self, results, reused=reused, referenced=referenced, note=note)))
        failed = [r for r in results if r.status == "failed"]
        if failed:
            raise RuntimeError(f"{len(failed)} of this page's {len(results)} runs failed, so it is not published; "
                               f"run it again once the cause is fixed (finished runs are reused):\n"
                               + failure_report(failed))
        if results and not any(r.status == "ok" for r in results):
            raise RuntimeError(f"none of this page's {len(results)} runs finished ok (all diverged): it has no "
                               "numbers to show; choose other learning rates")

    def _page_runs(self, used: tuple) -> tuple[list[RunResult], int, int]:
        """The page's stored results (see `footer`), how many of them were reused from the results
        folder and how many were read from the reference store."""
        named = set().union(*(run_ids(item) for item in used)) if used else set()
        stored = stored_runs(self.workspace)
        reused = {run_id for run_id in named if run_id in self.existing and stored.get(run_id) == self.existing[run_id]}
        written = {run_id for run_id, stamp in stored.items() if self.existing.get(run_id) != stamp}
        located = {run_id: self.workspace.store.locate(run_id) for run_id in sorted(named | written)}
        results = [result for result, _ in located.values() if result is not None]
        referenced = sum(source == REFERENCE for result, source in located.values() if result is not None)
        return results, len(reused - {i for i, (_, source) in located.items() if source == REFERENCE}), referenced


MISSING = "missing"  # `retrain` value: read the reference store and train what neither store holds
RETRAIN_CHOICES = (None, True, False, MISSING)


def page_source(profile: str | None, retrain: bool | str | None, reference_dir=None) -> tuple[str, Path | None, bool]:
    """(profile, reference folder or None, whether to train) of a page; see `Page.start`."""
    if retrain not in RETRAIN_CHOICES:
        raise ValueError(f"retrain {retrain!r} must be None (train unless on the reference profile), "
                         f"False (train nothing), True (ignore the reference store, train what is missing) or "
                         f"{MISSING!r} (read the reference store, train what neither store holds)")
    reference = Path(reference_dir) if reference_dir is not None else REFERENCE_DIR
    held = retrain is not True and reference.is_dir() and any((reference / "runs").glob("*.json"))
    profile = profile or (REFERENCE_PROFILE if held else "cpu")
    train = profile != REFERENCE_PROFILE if retrain is None else retrain is not False
    return profile, reference if held else None, train


def stored_runs(workspace: Workspace) -> dict[str, tuple[int, int]]:
    """Run id -> (modification time in ns, inode) of every result file in the workspace's results
    folder: a result written again (an atomic replace: a new file) changes its stamp even within
    one tick of a coarse file-system clock."""
    stamps = {}
    for path in (workspace.results_dir / "runs").glob("*.json"):
        stat = path.stat()
        stamps[path.stem] = (stat.st_mtime_ns, stat.st_ino)
    return stamps


def run_ids(item) -> set[str]:
    """Run ids named by a list of RunConfig, a {task: {seed: RunConfig}} mapping, or a frame
    with `run_id` (and `secondary_run_id`) columns."""
    if isinstance(item, pd.DataFrame):
        columns = [c for c in ("run_id", "secondary_run_id") if c in item]
        return {value for c in columns for value in item[c].dropna()}
    if isinstance(item, Mapping):
        return {config.run_id() for per_seed in item.values() for config in per_seed.values()}
    return {config.run_id() for config in item}


def provenance(page: Page, results: list, *, reused: int, referenced: int = 0, note: str = "") -> str:
    """The closing line from the page's stored results (`RunResult`s), `reused` of which were
    in the results folder before the page started and `referenced` read from the reference
    store: profile, runs, models, tasks and seeds, how they ended, what was computed now, what
    reused and what read (each said only when some were), how many started from weights re-made
    with another result (`repro.runs.reference.started_from_remade`), then the commit, date,
    machine (`machine`) and minutes of this execution."""
    minutes = (time.perf_counter() - page.started) / 60
    line = "**Provenance.** This page ran" + (f" profile **{page.profile}**" if page.profile else "") + ": "
    if results:
        models = ", ".join(sorted({r.config.model for r in results}))
        tasks = ", ".join(sorted({r.config.task for r in results}))
        seeds = sorted({r.config.seed for r in results})
        statuses = ", ".join(f"{sum(r.status == s for r in results)} {s}" for s in STATUSES)
        line += (f"{len(results)} runs of {models} on {tasks}, seed{'s' if len(seeds) > 1 else ''} "
                 f"{', '.join(map(str, seeds))}; {statuses}; {reuse_text(len(results), reused, referenced)}. ")
    else:
        line += "no runs. "
    reference = page.workspace.reference_dir
    remade = started_from_remade(results, reference) if reference is not None else []
    if remade:
        line += (f"{len(remade)} of them started from the tuned weights of a stored run made again on the CPU model "
                 f"they ran on, whose scores differ from its record ({Path(reference).name}/{REMADE}/). ")
    line += (f"Commit {commit()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {machine(page.workspace.device)}; "
             f"{minutes:.1f} minutes.")
    return f"{line} {note}" if note else line


def reuse_text(total: int, reused: int, referenced: int = 0) -> str:
    """Where the runs came from: computed now, reused from the results folder, read from the
    reference store; each named only when some run came from it."""
    computed = total - reused - referenced
    if computed == total:
        return f"all {total} computed while the page ran"
    parts = [f"{computed} computed while the page ran"] if computed else []
    if reused:
        parts.append(f"{reused} reused from results stored before it started")
    if referenced:
        parts.append(f"{referenced} read from the reference store")
    if len(parts) == 1:
        return "all " + parts[0].replace(" before it started", " before the page started")
    return ", ".join(parts)


def commit() -> str:
    """The short git commit of the code ("abc123def456", "... with uncommitted changes"), or
    "unknown (not a git checkout)"."""
    folder = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=10,
                              cwd=folder).stdout.strip()
        changes = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                                 timeout=10, cwd=folder).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head, changes = "", ""
    if not head:
        return "unknown (not a git checkout)"
    return f"`{head}`" + (" with uncommitted changes" if changes else "")


def machine(device: str) -> str:
    """The hardware a page ran on: the GPU's name for a CUDA device, else the CPU's model and the
    cores this process may use."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(torch.device(device))}"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"CPU {cpu_model()} ({cores} cores)"


def as_studies(studies: Study | Mapping[str, Study]) -> dict[str, Study]:
    return {studies.task: studies} if isinstance(studies, Study) else dict(studies)


def per_study(studies: dict[str, Study], value) -> object:
    """`value(study)` when every study agrees, else "task: value; ..."."""
    values = {task: value(study) for task, study in studies.items()}
    distinct = set(map(str, values.values()))
    return next(iter(values.values())) if len(distinct) == 1 else "; ".join(f"{t}: {v}" for t, v in values.items())


def subset_sizes(study: Study) -> str:
    """The sizes of the variants that take one, and which variants have their own."""
    fixed = [v for v in study.selectors if variant_named(v).fixed_size]
    parts = []
    if len(fixed) < len(study.selectors):
        parts.append(", ".join("BitFit's share" if s is None else f"{s:g}" for s in study.subset_sizes))
    if fixed:
        parts.append(f"{', '.join(fixed)}: their own size")
    return "; ".join(parts)


def rate_grids(study: Study) -> str:
    """The grids of the study's variants (and of the selectors they penalise), "key: values; ..."."""
    names = set(study.selectors) | {variant_fields(v)["selector"] for v in study.selectors}
    return "; ".join(f"{key}: {', '.join(f'{v:g}' for v in grid)}" for key, grid in study.learning_rates.items()
                     if key.split("@")[0] in names)


def probe_setting(probe: MLMProbeConfig) -> str:
    """The MLM probe's sizes and recipe in one line."""
    return (f"train on {probe.train_sequences or 'all'} WikiText-2 validation sequences, score on "
            f"{probe.test_sequences or 'all'} test sequences of {probe.recipe.max_length} tokens; "
            f"{probe.recipe.epochs} epochs, lr {probe.recipe.learning_rate:g}, batch {probe.recipe.batch_size}")


def rate_choice(studies: dict[str, Study]) -> str:
    """How the learning rate of a cell is chosen: on validation, or not at all (one-value grids)."""
    if all(len(s.rates_for(v, size)) == 1 for s in studies.values() for v, size in s.cells()):
        return "one rate per cell, not tuned (rate_grid 'middle': the middle of each grid)"
    return "chosen on validation per cell, from the grids below"


def data_description(data: Mapping[str, object]) -> str:
    """Where each task's data came from, without machine paths: "local data folder" or the hub
    dataset, and the data's fingerprint (`TaskData.fingerprint`, as the run results record it)."""
    def where(source: str) -> str:
        return "local data folder" if source.startswith("local:") else f"Hugging Face hub {source.removeprefix('hub:')}"
    return "; ".join(f"{task}: {where(d.source)}, fingerprint {d.fingerprint}" for task, d in data.items())


def settings_rows(page: Page, studies: dict[str, Study], extend_edges: bool) -> dict[str, object]:
    """The settings every page states about its studies, in order."""
    data = {task: load_task(task, page.workspace.data_dir) for task in studies}
    first = next(iter(studies.values()))
    selectors = {variant_fields(v)["selector"] for v in first.selectors}
    rows = {"profile": page.profile, "model": per_study(studies, lambda s: s.model),
            "tasks": ", ".join(f"{task} (test: {d.spec.test_split})" for task, d in data.items()),
            "data": data_description(data),
            "variants": per_study(studies, lambda s: ", ".join(s.selectors)),
            "subset sizes": per_study(studies, subset_sizes),
            "learning rates": rate_choice(studies),
            "learning-rate grids": per_study(studies, rate_grids),
            "extend edges": f"{extend_edges} (the paper's rule, capped at {LR_CAP:g})",
            "seeds": per_study(studies, lambda s: ", ".join(map(str, s.seeds))),
            "epochs": per_study(studies, lambda s: s.epochs),
            "training examples": per_study(studies, lambda s: "all" if s.train_size is None else s.train_size),
            "validation examples (carved from train)": per_study(studies, lambda s: s.val_size),
            "max length": per_study(studies, lambda s: s.max_length)}
    if selectors & NEEDS_DOWNSTREAM:
        rows["downstream Fisher N"] = per_study(studies, lambda s: s.fisher_samples)
    if selectors & NEEDS_PRETRAINING:
        rows["pretraining Fisher N (WikiText-2 sequences)"] = per_study(studies, lambda s: s.pretrain_fisher_samples)
    owned = {field for v in first.selectors for field in variant_named(v).owned_fields}
    for field, label in OWNED_ROWS.items():
        if field in owned:
            rows[label] = per_study(studies, lambda s: f"{getattr(s, field):g}")
    rows["runs"] = sum(len(s.configs(page.workspace.data_source)) for s in studies.values())
    return rows
