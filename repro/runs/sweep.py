"""Run a list of configurations: checks first, then every run not finished yet, on an executor.
In a workspace that does not train (`Workspace.train` False) nothing runs: the runs found in
neither the results folder nor the reference store are reported as pending."""
from __future__ import annotations

import math
import time
import warnings
from collections import Counter
from dataclasses import dataclass

from tqdm import tqdm

from repro.runs.learning_rate import summarise
from repro.runs.config import RunConfig
from repro.data import get_task_spec, load_task, split_indices
from repro.data.encoding import check_tokenizer
from repro.runs.estimate import Estimate, end_line, estimate, start_line, workers_of
from repro.runs.executors import ExecutorConfig, dispatch, executor_config
from repro.files import remove_stray_temporaries
from repro.runs.run import Workspace, reusable_result
from repro.models import check_model_available, load_tokenizer
from repro.runs.store import RunResult
from repro.runs.study import Study


def check_grid(configs: list[RunConfig], workspace: Workspace) -> None:
    """The checks that need neither models nor data: a non-empty grid without duplicates, each
    run reading the workspace's data source. Raises ValueError."""
    if not configs:
        raise ValueError("empty grid: no runs to execute")
    duplicates = [run_id for run_id, n in Counter(c.run_id() for c in configs).items() if n > 1]
    if duplicates:
        raise ValueError(f"the grid lists {len(duplicates)} run(s) more than once, e.g. run id {duplicates[0]}")
    for config in configs:
        if config.data_source != workspace.data_source:
            raise ValueError(f"run {config.run_id()} wants {config.data_source!r} data but the workspace reads "
                             f"{workspace.data_source!r} data")


def preflight(configs: list[RunConfig], workspace: Workspace) -> None:
    """Every check that can fail before training: `check_grid`; loadable models; readable,
    non-empty data (`load_task`) with enough training examples for every run's train_size and
    val_size; tokenizers that keep the text (`check_tokenizer`); a writable results folder.
    Raises ValueError/OSError naming the value, model or file at fault."""
    check_grid(configs, workspace)
    for model in sorted({c.model for c in configs}):
        check_model_available(model)
    for task in sorted({c.task for c in configs}):
        data = load_task(task, workspace.data_dir)
        for train_size, val_size in sorted({(c.train_size, c.val_size) for c in configs if c.task == task}, key=str):
            split_indices(len(data.train), train_size, val_size, seed=0, task=task)  # raises when too few
        for model in sorted({c.model for c in configs if c.task == task}):
            check_tokenizer(data.train, load_tokenizer(model), model, task)
    try:
        workspace.results_dir.mkdir(parents=True, exist_ok=True)
        probe = workspace.results_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise PermissionError(f"results folder {workspace.results_dir} is not writable: {error}") from error


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep would do: finished runs are kept, the rest (new or failed) run."""

    finished: list[RunConfig]
    pending: list[RunConfig]
    pending_steps: int  # optimizer steps of the pending runs (decoder-first not counted)
    estimate: Estimate  # predicted seconds of each pending run (`repro.runs.estimate`)


def train_split_size(task: str, workspace: Workspace) -> int:
    """Examples in a task's training split: counted in a local data folder, else the hub's
    documented size (`TaskSpec.train_examples`), so that nothing is downloaded."""
    if workspace.data_dir is None:
        return get_task_spec(task).train_examples
    return len(load_task(task, workspace.data_dir).train)


def training_steps(config: RunConfig, workspace: Workspace) -> int:
    """Optimizer steps of one run: batches per epoch times epochs."""
    examples = config.train_size
    if examples is None:
        examples = train_split_size(config.task, workspace) - config.val_size
    return math.ceil(examples / config.batch_size) * config.epochs


def plan_sweep(configs: list[RunConfig], workspace: Workspace, check_data: bool = True) -> SweepPlan:
    """Split `configs` into finished and pending runs, with what is known of their cost. With
    `check_data`, a result made from other data is quarantined and its run is pending
    (`repro.runs.run.reusable_result`); without it nothing is read from the data folder or hub."""
    finished, pending = [], []
    for config in configs:
        (finished if reusable_result(config, workspace, check_data) is not None else pending).append(config)
    steps = [training_steps(config, workspace) for config in pending]
    return SweepPlan(finished, pending, sum(steps), estimate(pending, steps, workspace.store.results()))


class PendingRuns(UserWarning):
    """Runs that a sweep in a workspace that does not train found in neither store."""


def pending_report(pending: list[RunConfig]) -> str:
    """The count and one line per pending run (run id, variant, task, learning rate, seed)."""
    lines = [f"  run {c.run_id()} ({c.variant}, {c.task}, lr {c.learning_rate:g}, seed {c.seed})" for c in pending]
    return "\n".join([f"{len(pending)} run(s) pending: in neither the results folder nor the reference, and the "
                      f"workspace does not train (train=False)"] + lines)


def stored_results(configs: list[RunConfig], workspace: Workspace) -> tuple[list[RunResult], list[RunConfig]]:
    """Without running anything: the stored results of `configs` (in their order; records made
    from other data than the data read now are set aside first, `reusable_result`) and the runs
    that have none (pending). Nothing is estimated: no run is planned."""
    check_grid(configs, workspace)
    for config in configs:
        reusable_result(config, workspace)
    stored = [workspace.store.load(config) for config in configs]
    return [r for r in stored if r is not None], [c for c, r in zip(configs, stored) if r is None]


def run_sweep(configs: list[RunConfig], workspace: Workspace,
              executor: str | ExecutorConfig = "serial") -> list[RunResult]:
    """Run every configuration not finished yet (ok or diverged) and return all results in the
    order of `configs`. A failing run is recorded and the others go on; a sweep killed at any
    moment resumes from the results already written. In a workspace that does not train,
    nothing is dispatched: the stored results are returned (`stored_results`) and the pending
    runs left out, reported in one `PendingRuns` warning (`pending_report`)."""
    executor = executor if isinstance(executor, ExecutorConfig) else executor_config(executor)
    if not workspace.train:
        results, pending = stored_results(configs, workspace)
        if pending:
            warnings.warn(pending_report(pending), PendingRuns, stacklevel=2)
        return results
    preflight(configs, workspace)
    remove_stray_temporaries(workspace.results_dir)
    plan = plan_sweep(configs, workspace)
    workers = workers_of(executor)
    if workspace.progress and plan.pending:
        print(start_line(plan.estimate, len(plan.finished), workers))
    started = time.perf_counter()
    failures = 0
    bar = tqdm(total=len(configs), initial=len(plan.finished), desc="runs", disable=not workspace.progress)

    def on_result(result: RunResult) -> None:
        nonlocal failures
        failures += result.status == "failed"
        bar.update(1)
        bar.set_postfix(failed=failures, refresh=True)

    try:
        dispatch(plan.pending, workspace, executor, on_result)
    finally:
        bar.close()
    if workspace.progress and plan.pending:
        print(end_line(len(plan.pending), time.perf_counter() - started, plan.estimate, workers))
    return [workspace.store.load(config) for config in configs]


def failure_report(results: list[RunResult]) -> str:
    """One line per failed run of `results` (run id, variant, task, learning rate, seed and the
    first line of its error), "" when none failed."""
    return "\n".join(f"failed: run {r.config.run_id()} ({r.config.variant}, {r.config.task}, lr "
                     f"{r.config.learning_rate:g}, seed {r.config.seed}): {((r.reason or '').splitlines() or ['?'])[0]}"
                     for r in results if r.status == "failed")


def run_study(study: Study, workspace: Workspace, executor: str | ExecutorConfig = "serial", *,
              extend_edges: bool = False, max_rounds: int = 3) -> tuple[Study, list[RunResult]]:
    """Run a study's grid; with `extend_edges`, apply the paper's rule: extend every cell whose
    best validation rate is at an edge of its grid and rerun, for up to `max_rounds` rounds.
    Returns the (possibly extended) study and the results of all its runs."""
    from repro.runs.grid_extension import edge_extensions, extend_study

    configs = study.configs(workspace.data_source)
    results = run_sweep(configs, workspace, executor)
    for _ in range(max_rounds if extend_edges else 0):
        frame = workspace.store.to_frame()
        if frame.empty:  # nothing stored (a read-only workspace before any run): no cell to extend
            break
        extensions = edge_extensions(summarise(frame[frame["run_id"].isin({c.run_id() for c in configs})], configs))
        if not extensions:
            break
        study = extend_study(study, extensions)
        configs = study.configs(workspace.data_source)
        results = run_sweep(configs, workspace, executor)
    return study, results
