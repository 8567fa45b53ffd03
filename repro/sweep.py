"""Run a list of configurations: checks first, then each run, skipping finished ones.

Only the serial executor exists so far; every executor is to call `run_one`.
"""
from __future__ import annotations

from collections import Counter

from tqdm import tqdm

from repro.config import RunConfig
from repro.data import load_task
from repro.experiment import Workspace, run_one
from repro.models import check_model_available
from repro.results import FINISHED, RunResult

EXECUTORS = ("serial",)


def preflight(configs: list[RunConfig], workspace: Workspace) -> None:
    """Every check that can fail before training: a non-empty grid without duplicates,
    loadable models and data, a writable results folder. Raises ValueError/FileNotFoundError."""
    if not configs:
        raise ValueError("empty grid: no runs to execute")
    duplicates = [run_id for run_id, n in Counter(c.run_id() for c in configs).items() if n > 1]
    if duplicates:
        raise ValueError(f"the grid lists {len(duplicates)} run(s) more than once, e.g. run id {duplicates[0]}")
    for config in configs:
        if config.data_source != workspace.data_source:
            raise ValueError(f"run {config.run_id()} wants {config.data_source!r} data but the workspace reads "
                             f"{workspace.data_source!r} data")
    for model in sorted({c.model for c in configs}):
        check_model_available(model)
    for task in sorted({c.task for c in configs}):
        load_task(task, workspace.data_dir)
    workspace.results_dir.mkdir(parents=True, exist_ok=True)
    probe = workspace.results_dir / ".write-test"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise PermissionError(f"results folder {workspace.results_dir} is not writable: {error}") from error


def run_sweep(configs: list[RunConfig], workspace: Workspace, executor: str = "serial") -> list[RunResult]:
    """Run every configuration not finished yet (ok or diverged) and return all results,
    in the order of `configs`. A failing run is recorded and the sweep goes on."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; available: {EXECUTORS}")
    preflight(configs, workspace)
    store = workspace.store
    results, failures = [], 0
    bar = tqdm(configs, desc="runs", disable=not workspace.progress)
    for config in bar:
        result = store.load(config)
        if result is None or result.status not in FINISHED:
            result = run_one(config, workspace)
        failures += result.status == "failed"
        results.append(result)
        bar.set_postfix(failed=failures, refresh=False)
    return results
