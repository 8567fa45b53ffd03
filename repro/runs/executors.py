"""Executors: how a sweep's pending runs are carried out. Every one calls `run_one`.

- serial: one run after another in this process (default; per-run progress bars).
- local: a pool of `workers` processes with `threads_per_worker` torch threads each, so the
  machine's cores are shared, not oversubscribed.
- slurm: a submitit job array (one GPU per job by default, a cap on jobs running at once, a
  time limit); a preempted or timed-out job is requeued and restarts its run from the start,
  and a run whose result is already finished is never redone.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from repro.runs.config import RunConfig
from repro.runs.run import Workspace, run_one, run_unless_finished
from repro.runs.store import FINISHED, RunResult

EXECUTORS = ("serial", "local", "slurm")


@dataclass(frozen=True)
class ExecutorConfig:
    """Which executor runs a sweep, and its resources."""

    name: str = "serial"
    workers: int = 2                 # local: processes; 2 x 1 thread tied 1 x 2 on a quiet 2-core machine and
                                     # degraded less under load (benchmarks/throughput.py)
    threads_per_worker: int = 1      # local: torch threads in each
    slurm_partition: str | None = None
    array_parallelism: int = 32      # slurm: jobs of the array running at once
    gpus_per_job: int = 1
    cpus_per_job: int = 8
    mem_gb: int = 32
    timeout_min: int = 240
    cluster: str | None = None       # submitit cluster: None = Slurm when present; "local"/"debug" for tests
    log_folder: str | None = None    # submitit logs; None = <results_dir>/slurm

    def __post_init__(self):
        if self.name not in EXECUTORS:
            raise ValueError(f"unknown executor {self.name!r}; available: {EXECUTORS}")
        for field_name in ("workers", "threads_per_worker", "array_parallelism", "cpus_per_job", "timeout_min"):
            if getattr(self, field_name) < 1:
                raise ValueError(f"{field_name} must be >= 1, got {getattr(self, field_name)}")


OnResult = Callable[[RunResult], None]


def dispatch(pending: list[RunConfig], workspace: Workspace, executor: ExecutorConfig, on_result: OnResult) -> None:
    """Run every config of `pending`, calling `on_result` as each one ends (in completion order)."""
    if executor.name == "serial":
        for config in pending:
            on_result(run_one(config, workspace))
    elif executor.name == "local":
        _run_local(pending, workspace, executor, on_result)
    else:
        _run_slurm(pending, workspace, executor, on_result)


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _run_local(pending, workspace, executor, on_result) -> None:
    quiet = replace(workspace, progress=False)  # one overall bar in the parent, not interleaved ones
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(executor.workers, mp_context=context, initializer=_init_worker,
                             initargs=(executor.threads_per_worker,)) as pool:
        futures = {pool.submit(run_one, config, quiet): config for config in pending}
        for future in as_completed(futures):
            on_result(_outcome(future.result, futures[future], workspace))


def _outcome(get_result: Callable[[], RunResult], config: RunConfig, workspace: Workspace) -> RunResult:
    """The run's result, or a recorded failure when its process or job died without one."""
    try:
        return get_result()
    except Exception as error:  # noqa: BLE001 - the worker itself died (killed, out of memory, ...)
        stored = workspace.store.load(config)
        if stored is not None and stored.status in FINISHED:
            return stored
        result = RunResult(config, "failed", reason=f"the worker running it died: {type(error).__name__}: {error}")
        workspace.store.write(result)
        return result


class SlurmRun:
    """What each array job runs; submitit requeues it on preemption or timeout (`checkpoint`)."""

    def __init__(self, workspace: Workspace):
        self.workspace = replace(workspace, progress=False)

    def __call__(self, config_dict: dict) -> RunResult:
        return run_unless_finished(RunConfig.from_dict(config_dict), self.workspace)

    def checkpoint(self, config_dict: dict):
        import submitit

        return submitit.helpers.DelayedSubmission(SlurmRun(self.workspace), config_dict)


def _run_slurm(pending, workspace, executor, on_result) -> None:
    import submitit

    folder = Path(executor.log_folder) if executor.log_folder else workspace.results_dir / "slurm"
    submitter = submitit.AutoExecutor(folder=folder, cluster=executor.cluster)
    submitter.update_parameters(timeout_min=executor.timeout_min, gpus_per_node=executor.gpus_per_job,
                                cpus_per_task=executor.cpus_per_job, mem_gb=executor.mem_gb,
                                slurm_array_parallelism=executor.array_parallelism,
                                slurm_partition=executor.slurm_partition)
    jobs = submitter.map_array(SlurmRun(workspace), [config.to_dict() for config in pending])
    by_job = {job.job_id: config for job, config in zip(jobs, pending)}
    for job in submitit.helpers.as_completed(jobs):
        on_result(_outcome(job.result, by_job[job.job_id], workspace))
