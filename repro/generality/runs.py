"""The runs a generality page needs: primary studies at their chosen learning rates, and per
task the base run (full fine-tuning of the pretrained encoder, rate chosen once on it) that
secondary runs and differences refer to (paper section 4.2)."""
from __future__ import annotations

import pandas as pd

from repro.runs.learning_rate import chosen_runs, summarise
from repro.runs.config import RunConfig
from repro.runs.executors import ExecutorConfig
from repro.runs.run import Workspace
from repro.runs.study import Study, middle_rates, study_from_profile
from repro.runs.sweep import run_study

RATE_GRIDS = ("middle", "full")


def check_rate_grid(rate_grid: str) -> None:
    if rate_grid not in RATE_GRIDS:
        raise ValueError(f"rate_grid {rate_grid!r} must be one of {RATE_GRIDS}: middle runs the middle rate "
                         "of each grid (not tuned), full the whole grid")


def studies_for(profile: str, tasks: list[str], rate_grid: str, **settings) -> dict[str, Study]:
    """`study_from_profile(profile, task, **settings)` per task, cut to its middle rates when
    `rate_grid` is "middle"."""
    check_rate_grid(rate_grid)
    studies = {task: study_from_profile(profile, task, **settings) for task in tasks}
    return {task: middle_rates(s) if rate_grid == "middle" else s for task, s in studies.items()}


def run_studies(studies: dict[str, Study], workspace: Workspace, executor: str | ExecutorConfig = "serial",
                extend_edges: bool = False) -> tuple[pd.DataFrame, list[RunConfig]]:
    """Run every study (finished runs are reused); returns the summary of all their runs
    (`repro.runs.learning_rate.summarise`) and every run config of the (possibly extended) grids."""
    configs: list[RunConfig] = []
    for task, study in studies.items():
        study, _ = run_study(study, workspace, executor, extend_edges=extend_edges)
        configs.extend(study.configs(workspace.data_source))
    frame = workspace.store.to_frame()
    return summarise(frame[frame["run_id"].isin({c.run_id() for c in configs})]), configs


def base_runs(profile: str, tasks: list[str], workspace: Workspace, rate_grid: str,
              executor: str | ExecutorConfig = "serial", extend_edges: bool = False,
              **settings) -> tuple[dict[str, dict[int, RunConfig]], pd.DataFrame]:
    """Per task, per seed, full fine-tuning of the pretrained encoder at the rate chosen on
    validation (the profile's `full` grid, or its middle): the `bases` of `repro.generality.measures.Generality`.
    `settings` are study settings (train size, epochs, seeds, ...) shared with the primary
    studies, so a primary task's base is its own `full` run. Also returns their summary."""
    studies = studies_for(profile, tasks, rate_grid, selectors="full", **settings)
    summary, configs = run_studies(studies, workspace, executor, extend_edges)
    bases: dict[str, dict[int, RunConfig]] = {}
    for config in chosen_runs(summary, configs):
        bases.setdefault(config.task, {})[config.seed] = config
    missing = [t for t in tasks if t not in bases]
    if missing:
        reasons = [r.reason for c in configs if c.task in missing
                   for r in [workspace.store.load(c)] if r is not None and r.reason]
        first = reasons[0].splitlines()[-1] if reasons else "no run finished ok"
        raise RuntimeError(f"full fine-tuning finished no run for {missing}, so these tasks have no base run; "
                           f"first failure: {first}")
    return bases, summary
