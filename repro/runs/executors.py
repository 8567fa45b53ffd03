"""Executors: how a sweep's pending runs are carried out. Every one calls `run_one`.

- serial: one run after another in this process (default; per-run progress bars).
- local: `workers` processes, each given one run at a time (each run sets its own torch threads,
  `RunConfig.threads`); a process that dies (killed, out of memory) fails only the run it held,
  and a fresh process takes its place.
- slurm: a submitit job array (CPUs, memory and GPUs per job as the profile needs, a cap on
  jobs running at once, a time limit), checked against the partition before it is submitted and
  followed through squeue (`repro.runs.slurm`); a preempted, timed-out or requeued job restarts
  its run from the start, a run whose result is already finished is never redone, and a job that
  ends without a result (cancelled, failed) leaves its run failed, for the next sweep to retry.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import shutil
import signal
from collections import Counter, deque
from dataclasses import dataclass, fields, replace
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable

from repro.runs import slurm
from repro.runs.config import RunConfig
from repro.runs.profiles import SLURM_RESOURCES, check_profile
from repro.runs.run import Workspace, run_one, run_unless_finished
from repro.runs.store import FINISHED, RunResult

EXECUTORS = ("serial", "local", "slurm")
# What an executor string may set ("slurm:partition=gpu,cpus=4"): key -> ExecutorConfig field
SPEC_KEYS: dict[str, dict[str, str]] = {
    "serial": {},
    "local": {"workers": "workers"},
    "slurm": {"partition": "slurm_partition", "cpus": "cpus_per_job", "mem_gb": "mem_gb", "gpus": "gpus_per_job",
              "at_once": "array_parallelism", "timeout_min": "timeout_min"},
}


@dataclass(frozen=True)
class ExecutorConfig:
    """Which executor runs a sweep, and its resources."""

    name: str = "serial"
    workers: int = 2                 # local: processes; 2 x 1 thread tied 1 x 2 on a quiet 2-core machine and
                                     # degraded less under load (benchmarks/throughput.py)
    slurm_partition: str | None = None  # slurm: partition; None: the cluster's default
    array_parallelism: int = 32      # slurm: jobs of the array running at once
    # slurm, per job: the cpu profile's resources unless given (`executor_config`: any profile's);
    # gpus_per_job 0 on a cluster without GPUs
    cpus_per_job: int = SLURM_RESOURCES["cpu"]["cpus_per_job"]
    mem_gb: int = SLURM_RESOURCES["cpu"]["mem_gb"]
    gpus_per_job: int = SLURM_RESOURCES["cpu"]["gpus_per_job"]
    timeout_min: int = 240
    cluster: str | None = None       # submitit cluster: None = Slurm; "local"/"debug" (no Slurm) for tests
    log_folder: str | None = None    # submitit logs; None = <results_dir>/slurm

    def __post_init__(self):
        if self.name not in EXECUTORS:
            raise ValueError(f"unknown executor {self.name!r}; available: {EXECUTORS}")
        for field_name in ("workers", "array_parallelism", "cpus_per_job", "mem_gb", "timeout_min", "gpus_per_job"):
            check_count(field_name, getattr(self, field_name))

    def describe(self) -> str:
        """E.g. "slurm: partition debug, 1 CPU, 2 GB, 0 GPUs, 240 min per job, 32 at once"."""
        if self.name == "local":
            return f"local: {self.workers} processes"
        if self.name == "slurm":
            return (f"slurm: partition {self.slurm_partition or '(default)'}, {self.request().describe()} per job, "
                    f"{self.array_parallelism} at once")
        return self.name

    def request(self) -> slurm.JobRequest:
        return slurm.JobRequest(self.slurm_partition, self.cpus_per_job, self.mem_gb, self.gpus_per_job,
                                self.timeout_min)


def check_count(field: str, value, label: str | None = None) -> None:
    """An ExecutorConfig count (processes, CPUs, GB, minutes, jobs): a whole number >= 1, GPUs >= 0.
    ValueError naming `label` (default: the field)."""
    least, label = 0 if field == "gpus_per_job" else 1, label or field
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{label} must be a whole number, got {value!r}")
    if value < least:
        raise ValueError(f"{label} must be >= {least}, got {value}")


def parse_executor(spec: str) -> tuple[str, dict]:
    """An executor string -> (name, ExecutorConfig settings it sets): "serial", "local:workers=4",
    "slurm:partition=gpu,cpus=4,mem_gb=16,gpus=1" (keys: `SPEC_KEYS`; the partition a name, every
    other value a count). ValueError naming the bad key or value and what is allowed."""
    name, _, rest = str(spec).strip().partition(":")
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r} in {spec!r}; available: {', '.join(EXECUTORS)}")
    keys, settings = SPEC_KEYS[name], {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, _, value = (text.strip() for text in item.partition("="))
        if key not in keys:
            raise ValueError(f"executor {spec!r}: unknown setting {key!r} for {name}; allowed: "
                             f"{', '.join(f'{k}=...' for k in keys) or 'none'}")
        if not value or keys[key] in settings:
            raise ValueError(f"executor {spec!r}: {key!r} must be given once, as {key}=VALUE")
        if keys[key] != "slurm_partition":
            try:
                value = int(value)
            except ValueError:
                raise ValueError(f"executor {spec!r}: {key}={value!r} must be a whole number") from None
            check_count(keys[key], value, key)
        settings[keys[key]] = value
    return name, settings


def executor_config(spec: str = "serial", profile: str = "cpu", **settings) -> ExecutorConfig:
    """The executor for runs of `profile`, as notebooks and the command line build it: from an
    executor string (`parse_executor`) and ExecutorConfig fields given as keywords (None: not
    given); Slurm's cpus_per_job, mem_gb and gpus_per_job default to the profile's (`repro.runs.
    profiles.SLURM_RESOURCES`). ValueError for an unknown or bad setting, or one given twice."""
    check_profile(profile)
    name, parsed = parse_executor(spec)
    allowed = {f.name for f in fields(ExecutorConfig)} - {"name"}
    unknown = set(settings) - allowed
    if unknown:
        raise ValueError(f"unknown executor settings {sorted(unknown)}; allowed: {sorted(allowed)}")
    given = {key: value for key, value in settings.items() if value is not None}
    twice = sorted(set(given) & set(parsed))
    if twice:
        raise ValueError(f"executor settings {twice} given twice: in {spec!r} and on their own")
    return ExecutorConfig(name=name, **{**SLURM_RESOURCES[profile], **parsed, **given})


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


def _run_local(pending, workspace, executor, on_result) -> None:
    """`executor.workers` processes, each given one run at a time, so that the run a dead process
    held is known: only that run fails, and a fresh process takes the next one."""
    quiet = replace(workspace, progress=False)  # one overall bar in the parent, not interleaved ones
    queue = deque(pending)
    workers = [_Worker(quiet) for _ in range(min(executor.workers, len(queue)))]
    try:
        for worker in workers:
            worker.give(queue.popleft())
        while busy := [worker for worker in workers if worker.config is not None]:
            wait([worker.connection for worker in busy] + [worker.process.sentinel for worker in busy])
            for worker in busy:
                result = worker.outcome(workspace)
                if result is None:
                    continue
                if queue and not worker.process.is_alive():  # a fresh process in the dead one's place
                    worker.stop()
                    slot, worker = workers.index(worker), _Worker(quiet)
                    workers[slot] = worker
                if queue:
                    worker.give(queue.popleft())
                on_result(result)
    finally:
        for worker in workers:
            worker.stop()


class _Worker:
    """One spawned process of the local executor and the run it holds (`config`, None when idle)."""

    def __init__(self, workspace: Workspace):
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, workspace), name="repro-local-worker")
        self.process.start()
        child.close()
        self.config: RunConfig | None = None

    def give(self, config: RunConfig) -> None:
        self.config = config
        with contextlib.suppress(OSError):  # the process died already: `outcome` says so
            self.connection.send(config)

    def outcome(self, workspace: Workspace) -> RunResult | None:
        """The held run's result once it ended (a recorded failure when the process died without
        one) and the worker idle again; None while it runs."""
        if not self.connection.poll() and self.process.is_alive():
            return None
        config, self.config = self.config, None
        with contextlib.suppress(EOFError, OSError):  # EOF: the process died
            if self.connection.poll():
                return self.connection.recv()
        self.process.join()
        return _failed(config, workspace, f"the worker process running it died ({_death(self.process.exitcode)}); "
                                          "the next sweep runs it again")

    def stop(self) -> None:
        """End the process: an idle one when asked, a busy one (the sweep was interrupted) at once."""
        if self.config is None:
            with contextlib.suppress(OSError):
                self.connection.send(None)
            self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.connection.close()


def _serve(connection, workspace: Workspace) -> None:
    """A local worker: run each config received and send back its result, until told to stop
    (None) or the parent is gone."""
    while True:
        try:
            config = connection.recv()
        except EOFError:
            return
        if config is None:
            return
        connection.send(run_one(config, workspace))


def _death(exitcode: int | None) -> str:
    """How a process ended, e.g. "killed by SIGKILL: out of memory, or killed by hand"."""
    if exitcode is None or exitcode >= 0:
        return f"exit code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    return f"killed by {name}" + (": out of memory, or killed by hand" if name == "SIGKILL" else "")


def _outcome(get_result: Callable[[], RunResult], config: RunConfig, workspace: Workspace) -> RunResult:
    """The run's result, or a recorded failure when its process or job died without one."""
    try:
        return get_result()
    except Exception as error:  # noqa: BLE001 - the worker itself died (killed, out of memory, ...)
        return _failed(config, workspace, f"the worker running it died: {type(error).__name__}: {error}")


def _failed(config: RunConfig, workspace: Workspace, reason: str) -> RunResult:
    """A failure recorded for the next sweep to retry, unless the run finished after all."""
    stored = workspace.store.load(config)
    if stored is not None and stored.status in FINISHED:
        return stored
    result = RunResult(config, "failed", reason=reason)
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
    """A job array of `pending`; on Slurm itself (cluster None or "slurm") the request is checked
    against the partition first and the array followed through squeue."""
    if not pending:
        return
    import submitit

    on_slurm = executor.cluster in (None, "slurm")
    if on_slurm:
        if shutil.which("sbatch") is None:
            raise ValueError("executor 'slurm' needs Slurm's sbatch on PATH and found none; for a one-machine "
                             "cluster: bash scripts/slurm_local.sh start")
        partition = slurm.check_request(executor.request(), *slurm.read_cluster())
    folder = Path(executor.log_folder) if executor.log_folder else workspace.results_dir / "slurm"
    submitter = submitit.AutoExecutor(folder=folder, cluster="slurm" if on_slurm else executor.cluster)
    gpus = {"gpus_per_node": executor.gpus_per_job} if executor.gpus_per_job else {}
    submitter.update_parameters(timeout_min=executor.timeout_min, cpus_per_task=executor.cpus_per_job,
                                mem_gb=executor.mem_gb, slurm_array_parallelism=executor.array_parallelism,
                                slurm_partition=executor.slurm_partition, **gpus)
    jobs = submitter.map_array(SlurmRun(workspace), [config.to_dict() for config in pending])
    by_id = {job.job_id: (job, config) for job, config in zip(jobs, pending)}
    if not on_slurm:
        for job in submitit.helpers.as_completed(jobs):
            on_result(_outcome(job.result, by_id[job.job_id][1], workspace))
        return
    array_id = jobs[0].job_id.split("_")[0]
    slurm.report(f"array {array_id}: {len(jobs)} jobs on partition {partition.name}, each "
                 f"{executor.request().describe()}, {executor.array_parallelism} at once; logs in {folder}")
    ended: Counter[str] = Counter()  # runs recorded failed, by the final state of their job
    for task, state in slurm.follow_array(array_id, list(by_id), lambda t: by_id[t][0].paths.result_pickle.exists()):
        job, config = by_id[task]
        if state is None:
            on_result(_outcome(job.result, config, workspace))
            continue
        result = _failed(config, workspace, f"slurm job {task} ended {state} without a result; the next sweep "
                                            f"runs it again{_last_line(job.stderr())}")
        if result.status == "failed":  # not when the run's own result was stored before its job ended
            ended[state] += 1
        on_result(result)
    if ended:
        slurm.report(f"array {array_id}: {sum(ended.values())} job(s) ended without a result "
                     f"({', '.join(f'{state} {n}' for state, n in ended.most_common())}); their runs are "
                     f"recorded as failed and the next sweep runs them again")


def _last_line(log: str | None) -> str:
    lines = [line.strip() for line in (log or "").splitlines() if line.strip()]
    return f" (its log ends: {lines[-1][:200]})" if lines else ""
