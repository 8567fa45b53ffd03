"""The runs a generality page needs: primary studies at their chosen learning rates, per task
the base run (full fine-tuning of the pretrained encoder, rate chosen once on it) that
secondary runs and differences refer to (paper section 4.2), and the secondary runs from each
tuned encoder. `repro.generality.measures` then reads and measures them.

In a workspace that does not train (`Workspace.train` False) nothing is run: what is missing
from both stores raises `repro.runs.store.NotComputed`, naming how many runs are pending."""
from __future__ import annotations

import pandas as pd
from tqdm import tqdm

from repro.generality.measures import Generality, assess, base_and_secondary_runs, needs_tuned_weights
from repro.generality.mlm_probe import MLMProbeConfig
from repro.runs.learning_rate import chosen_runs, summarise
from repro.runs.config import RunConfig
from repro.runs.executors import ExecutorConfig, dispatch, executor_config
from repro.runs.run import Workspace
from repro.runs.grid_files import section_grid
from repro.runs.study import Study
from repro.runs.sweep import run_study, run_sweep, stored_results

# Sections whose secondary tasks are only those named (Table 8: the similar and the dissimilar
# task); in the others the primary's own task counts among them, as in Tables 3, 6, 7, 10, 11.
NAMED_SECONDARIES_ONLY = ("task_similarity",)


def run_studies(studies: dict[str, Study], workspace: Workspace, executor: str | ExecutorConfig = "serial",
                extend_edges: bool = False) -> tuple[pd.DataFrame, list[RunConfig]]:
    """Run every study (finished runs are reused); returns the summary of all their runs
    (`repro.runs.learning_rate.summarise`, with the runs in neither store as pending) and every
    run config of the (possibly extended) grids."""
    configs: list[RunConfig] = []
    for task, study in studies.items():
        study, _ = run_study(study, workspace, executor, extend_edges=extend_edges)
        configs.extend(study.configs(workspace.data_source))
    frame = workspace.store.to_frame()
    if not frame.empty:
        frame = frame[frame["run_id"].isin({c.run_id() for c in configs})]
    return summarise(frame, configs), configs


def base_runs(section: str, profile: str, tasks: list[str], workspace: Workspace,
              executor: str | ExecutorConfig = "serial", extend_edges: bool = False,
              **overrides) -> tuple[dict[str, dict[int, RunConfig]], pd.DataFrame]:
    """Per task, per seed, full fine-tuning of the pretrained encoder at the rate chosen on
    validation (the section grid's `full` grid, or its middle: `repro.runs.grid_files.Grid.base_study`):
    the `bases` of `repro.generality.measures.Generality`. `overrides` are the settings shared with
    the primary studies (train size, epochs, seeds, rate_grid, ...), so a primary task's base is
    its own `full` run. Also returns their summary. NotComputed when base runs are pending."""
    grid = section_grid(section, profile)
    studies = {task: grid.base_study(task, **overrides) for task in tasks}
    summary, configs = run_studies(studies, workspace, executor, extend_edges)
    bases: dict[str, dict[int, RunConfig]] = {}
    for config in chosen_runs(summary, configs):
        bases.setdefault(config.task, {})[config.seed] = config
    missing = [t for t in tasks if t not in bases]
    pending = int(summary.loc[summary["task"].isin(missing), "n_pending"].sum())
    if pending:
        raise workspace.not_computed(f"{pending} base run(s) (full fine-tuning) of {missing}")
    if missing:
        reasons = [r.reason for c in configs if c.task in missing
                   for r in [workspace.store.load(c)] if r is not None and r.reason]
        first = reasons[0].splitlines()[-1] if reasons else "no run finished ok"
        raise RuntimeError(f"full fine-tuning finished no run for {missing}, so these tasks have no base run; "
                           f"first failure: {first}")
    return bases, summary


def run_secondaries(primaries: list[RunConfig], generality: Generality, workspace: Workspace,
                    executor: str | ExecutorConfig = "serial") -> None:
    """Run the base and secondary runs `repro.generality.measures.assess` reads
    (`base_and_secondary_runs`) not finished yet (on `executor`), after making sure that each
    primary run whose measures still read its tuned encoder (`needs_tuned_weights`: a secondary
    run or a probe not stored) has its weights: a stored primary without them is run again, on
    `executor` too (RuntimeError when one does not end ok); one measured in full is not. In a
    workspace that does not train, only check that they are all stored (NotComputed, with the
    pending runs, when not)."""
    configs = base_and_secondary_runs(primaries, generality, workspace)
    _, pending = stored_results(configs, workspace)
    if not workspace.train:
        if pending:
            first = pending[0]
            raise workspace.not_computed(f"{len(pending)} base or secondary run(s), e.g. run {first.run_id()} "
                                         f"({first.variant} on {first.task}, from {first.init_from or 'pretrained'})")
        return
    ok = [p for p in primaries if (r := workspace.store.load(p)) is not None and r.status == "ok"]
    again = [p for p in ok if not workspace.store.weights_path(p).exists()
             and needs_tuned_weights(p, generality, workspace)]
    if again:  # stored without their weights (another machine made them): run them again, side by side
        bar = tqdm(total=len(again), desc="primary weights", disable=not workspace.progress)
        ended = []
        dispatch(again, workspace, executor if isinstance(executor, ExecutorConfig) else executor_config(executor),
                 lambda result: (ended.append(result), bar.update(1)))
        bar.close()
        lost = [r for r in ended if r.status != "ok"]
        if lost:
            raise RuntimeError(f"{len(lost)} primary run(s) run again for their weights did not end ok, e.g. run "
                               f"{lost[0].config.run_id()} ({lost[0].config.variant}, {lost[0].config.task}): "
                               f"{lost[0].status}: {(lost[0].reason or '').splitlines()[:1]}")
    run_sweep(configs, workspace, executor)


def secondary_tasks_of(section: str, primaries: list[RunConfig], secondary_tasks: list[str],
                       include_primary: bool | None = None) -> tuple[str, ...]:
    """The secondary tasks the primaries are adapted to: the primaries' own tasks first (as in
    the paper's Tables 3, 6, 7, 10, 11, whose averages include them: a fresh decoder, then full
    fine-tuning at the base rate, on the primary task itself from the tuned encoder), then
    `secondary_tasks`, each once. `include_primary` None: True except for the sections of
    `NAMED_SECONDARIES_ONLY` (Table 8 reports only its two named tasks)."""
    if include_primary is None:
        include_primary = section not in NAMED_SECONDARIES_ONLY
    own = [p.task for p in primaries] if include_primary else []
    return tuple(dict.fromkeys(own + list(secondary_tasks)))


def run_and_assess(section: str, profile: str, primaries: list[RunConfig], secondary_tasks: list[str],
                   probe: MLMProbeConfig | None, workspace: Workspace, executor: str | ExecutorConfig = "serial",
                   extend_edges: bool = False, include_primary: bool | None = None,
                   **overrides) -> tuple[pd.DataFrame, dict[str, dict[int, RunConfig]], pd.DataFrame]:
    """A generality page's measures of `primaries`: the base runs of their tasks and of the
    secondary tasks (`secondary_tasks_of`: the primaries' own tasks count among them, except on
    the task-similarity page; `base_runs`, `overrides` shared with the primary studies), the
    secondary runs (`run_secondaries`), then `assess` with `probe` (None: no MLM probe). Returns
    the assess rows, the bases and the base runs' summary."""
    secondaries = secondary_tasks_of(section, primaries, secondary_tasks, include_primary)
    tasks = list(dict.fromkeys([p.task for p in primaries] + list(secondaries)))
    bases, base_summary = base_runs(section, profile, tasks, workspace, executor, extend_edges, **overrides)
    generality = Generality(probe, bases, secondaries)
    run_secondaries(primaries, generality, workspace, executor)
    return assess(primaries, generality, workspace), bases, base_summary
