"""Slurm as a sweep sees it: what a partition offers (`scontrol`), whether one job's request
fits it, and the states of a submitted job array (`squeue`), including the pending reasons that
never resolve by themselves. Needs no accounting (`sacct`).

Every Slurm command goes through `run_command`, so tests can replay recorded output.
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterator

from tqdm import tqdm

POLL_S = 5.0     # between two looks at the array
REPORT_S = 60.0  # between two progress lines
GRACE_S = 15.0   # an ended job's result may take this long to show on a shared file system

# States of a job that has not ended (squeue's long names); any other state is final.
ACTIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD",
          "RESIZING", "SUSPENDED", "SIGNALING", "STAGE_OUT", "PREEMPTED", "RESV_DEL_HOLD", "SPECIAL_EXIT"}
# Pending reasons that only a new request or an administrator can lift.
FATAL_REASONS = {
    "PartitionConfig": "no node of the partition is configured for this request",
    "PartitionNodeLimit": "the job needs more nodes than the partition allows",
    "PartitionTimeLimit": "the time limit is above the partition's MaxTime",
    "BadConstraints": "no node can satisfy the job's constraints",
    "Constraints": "no node can satisfy the job's constraints",
    "MaxMemPerLimit": "the memory is above the partition's limit per node or CPU",
    "InvalidAccount": "the account is not valid",
    "InvalidQOS": "the QOS is not valid",
    "AccountNotAllowed": "the account may not use this partition",
    "QOSNotAllowed": "the QOS may not use this partition",
    "DependencyNeverSatisfied": "a dependency can never be satisfied",
    "JobHoldMaxRequeue": "the job was requeued too often and is held",
    "ReservationDeleted": "its reservation was deleted",
    "ReservationInvalid": "its reservation is not valid",
    "launch failed requeued held": "a node failed to launch it and Slurm holds it",
}
# Per-job and per-node QOS or association limits (and QOS minimums): a running job never frees them.
FATAL_LIMIT = re.compile(r"(QOS|Assoc)(Max\w*Per(Job|Node)\w*|Min\w+)")


class UnsatisfiableRequest(ValueError):
    """The cluster cannot run a job as requested; the message gives both sides' numbers."""


class SlurmCommandError(OSError):
    """A Slurm command failed or is missing."""


def run_command(args: list[str]) -> str:
    """stdout of a Slurm command; SlurmCommandError (with its stderr) when it fails."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        raise SlurmCommandError(f"{args[0]}: {error}") from error
    if done.returncode != 0:
        raise SlurmCommandError(f"{' '.join(args)} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def report(message: str) -> None:
    """One progress line on stderr, above any progress bar."""
    tqdm.write(f"slurm: {message}", file=sys.stderr)


@dataclass(frozen=True)
class JobRequest:
    """What each job of an array asks for."""

    partition: str | None  # None: the cluster's default partition
    cpus: int
    mem_gb: int
    gpus: int
    timeout_min: int

    def describe(self) -> str:
        return (f"{self.cpus} CPU{'s' * (self.cpus != 1)}, {self.mem_gb} GB, {self.gpus} GPU{'s' * (self.gpus != 1)}, "
                f"{self.timeout_min} min")


@dataclass(frozen=True)
class Node:
    name: str
    cpus: int
    mem_mb: int
    gpus: int
    state: str
    partitions: tuple[str, ...]

    @property
    def up(self) -> bool:
        base, *flags = self.state.split("+")
        return (base in {"IDLE", "MIXED", "ALLOCATED", "COMPLETING"}
                and not {"DRAIN", "NOT_RESPONDING", "FAIL", "MAINTENANCE"} & set(flags))


@dataclass(frozen=True)
class Partition:
    name: str
    default: bool
    state: str
    max_time_min: float | None      # None: unlimited
    max_cpus_per_node: int | None
    max_mem_mb_per_node: int | None


def parse_records(text: str) -> list[dict[str, str]]:
    """`scontrol show ... --oneliner` output: one record per line of Key=Value fields (a value
    with spaces keeps its first word; the first occurrence of a key wins)."""
    records = []
    for line in text.splitlines():
        record: dict[str, str] = {}
        for key, value in re.findall(r"(?:^|\s)([A-Za-z][\w:/]*)=(\S*)", line):
            record.setdefault(key, value)
        if record:
            records.append(record)
    return records


def minutes(text: str) -> float | None:
    """A Slurm duration ([days-]hours:minutes:seconds, minutes:seconds, minutes) in minutes;
    None for UNLIMITED/INFINITE."""
    if text.upper() in {"UNLIMITED", "INFINITE", "NONE", "N/A"}:
        return None
    days, _, clock = text.rpartition("-")
    parts = [float(p) for p in clock.split(":")]
    if days:  # days-hours[:minutes[:seconds]]
        hours, mins, secs = parts + [0.0] * (3 - len(parts))
    elif len(parts) == 3:
        hours, mins, secs = parts
    else:  # minutes[:seconds]
        hours, (mins, secs) = 0.0, (parts + [0.0])[:2]
    return float(days or 0) * 1440 + hours * 60 + mins + secs / 60


def gpu_count(gres: str) -> int:
    """GPUs in a node's Gres field, e.g. "gpu:4", "gpu:a100:2(S:0-1),gpu:v100:2" (4), "(null)" (0)."""
    total = 0
    for item in re.sub(r"\([^)]*\)", "", gres).split(","):
        fields = item.split(":")
        if fields[0] == "gpu" and len(fields) > 1 and fields[-1].isdigit():
            total += int(fields[-1])
    return total


def _limit(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def read_cluster() -> tuple[dict[str, Partition], list[Node]]:
    """Partitions and nodes as `scontrol` reports them."""
    partitions = {}
    for record in parse_records(run_command(["scontrol", "show", "partition", "--oneliner"])):
        partitions[record["PartitionName"]] = Partition(
            record["PartitionName"], record.get("Default") == "YES", record.get("State", "UP"),
            minutes(record.get("MaxTime", "UNLIMITED")), _limit(record.get("MaxCPUsPerNode")),
            _limit(record.get("MaxMemPerNode")))
    nodes = [Node(r["NodeName"], int(r.get("CPUEfctv") or r.get("CPUTot", 0)), int(r.get("RealMemory", 0)),
                  gpu_count(r.get("Gres", "(null)")), r.get("State", "UNKNOWN"),
                  tuple(p for p in r.get("Partitions", "").split(",") if p))
             for r in parse_records(run_command(["scontrol", "show", "node", "--oneliner"]))]
    return partitions, nodes


def _shape(cpus: int, mem_mb: int, gpus: int) -> str:
    return f"{cpus} CPU{'s' * (cpus != 1)}, {mem_mb / 1024:.1f} GB, {gpus} GPU{'s' * (gpus != 1)}"


def check_request(request: JobRequest, partitions: dict[str, Partition], nodes: list[Node]) -> Partition:
    """The partition the request goes to, when at least one of its nodes can hold one job;
    UnsatisfiableRequest naming what was asked and what the partition offers otherwise."""
    if request.partition is None:
        defaults = [p for p in partitions.values() if p.default]
        if not defaults:
            raise UnsatisfiableRequest(f"no partition given and the cluster has no default one; "
                                       f"partitions: {', '.join(sorted(partitions))}")
        partition = defaults[0]
    elif request.partition in partitions:
        partition = partitions[request.partition]
    else:
        raise UnsatisfiableRequest(f"partition {request.partition!r} does not exist; "
                                   f"partitions: {', '.join(sorted(partitions)) or 'none'}")
    where = f"partition {partition.name!r}"
    if partition.max_time_min is not None and request.timeout_min > partition.max_time_min:
        raise UnsatisfiableRequest(f"a time limit of {request.timeout_min} min per job is above {where}'s MaxTime "
                                   f"of {partition.max_time_min:g} min (set --timeout-min)")
    members = [n for n in nodes if partition.name in n.partitions]
    offers = Counter((min(n.cpus, partition.max_cpus_per_node or n.cpus),
                      min(n.mem_mb, partition.max_mem_mb_per_node or n.mem_mb), n.gpus) for n in members)
    if not any(cpus >= request.cpus and mem >= request.mem_gb * 1024 and gpus >= request.gpus
               for cpus, mem, gpus in offers):
        shapes = "; ".join(f"{count} x {_shape(*shape)}" for shape, count in offers.most_common(5)) or "no nodes"
        raise UnsatisfiableRequest(
            f"{where} has no node for a job of {_shape(request.cpus, request.mem_gb * 1024, request.gpus)}; "
            f"its nodes offer {shapes}. Ask for less: --cpus, --mem-gb, --gpus (notebooks: executor = "
            f"\"slurm:cpus=N,mem_gb=N,gpus=N\"), or another --partition")
    if partition.state != "UP":
        report(f"warning: {where} is {partition.state} now; the jobs wait until it is UP")
    elif not any(n.up for n in members):
        report(f"warning: no node of {where} is up now ({', '.join(f'{n.name} {n.state}' for n in members)}); "
               f"the jobs wait until one is")
    return partition


@dataclass(frozen=True)
class TaskState:
    state: str
    reason: str


def parse_squeue(text: str) -> dict[str, TaskState]:
    """`squeue --format=%i|%T|%r` lines: job id ("123_4" for an array task) -> state and reason."""
    tasks = {}
    for line in text.splitlines():
        if line.strip():
            job_id, state, reason = line.strip().split("|", 2)
            tasks[job_id] = TaskState(state, reason)
    return tasks


def query_array(array_id: str) -> dict[str, TaskState]:
    """Every task of an array Slurm still lists, ended ones included ({} once it lists none)."""
    try:
        text = run_command(["squeue", "--noheader", "--array", "--states=all", f"--jobs={array_id}",
                            "--format=%i|%T|%r"])
    except SlurmCommandError as error:
        if "Invalid job id" in str(error):
            return {}
        raise
    return parse_squeue(text)


def is_fatal(reason: str) -> bool:
    return reason in FATAL_REASONS or FATAL_LIMIT.fullmatch(reason) is not None


def summarise(states: dict[str, TaskState], finished: int) -> str:
    """E.g. "2 running, 13 pending (Resources 11, JobArrayTaskLimit 2), 1 finished"."""
    counts = Counter(s.state for s in states.values())
    reasons = Counter(s.reason for s in states.values() if s.state == "PENDING" and s.reason != "None")
    parts = [f"{counts.pop('RUNNING', 0)} running"]
    if counts.get("PENDING"):
        why = f" ({', '.join(f'{reason} {n}' for reason, n in reasons.most_common())})" if reasons else ""
        parts.append(f"{counts.pop('PENDING')} pending{why}")
    parts += [f"{n} {state.lower()}" for state, n in sorted(counts.items())]
    return ", ".join(parts + [f"{finished} finished"])


def follow_array(array_id: str, task_ids: list[str], has_result: Callable[[str], bool], *,
                 poll_s: float = POLL_S, report_s: float = REPORT_S,
                 grace_s: float = GRACE_S) -> Iterator[tuple[str, str | None]]:
    """Yield (task id, None) as each task's result appears, and (task id, final state) for a task
    that ended without one (CANCELLED, FAILED, TIMEOUT, ...; "gone" once squeue no longer lists it).
    Reports the array's states every `report_s`. A task pending for a reason that never resolves
    by itself cancels the array and raises UnsatisfiableRequest with that reason."""
    remaining, ended_since, last_report = list(task_ids), {}, float("-inf")
    while remaining:
        for task in [t for t in remaining if has_result(t)]:
            remaining.remove(task)
            yield task, None
        if not remaining:
            return
        try:
            states = query_array(array_id)
        except SlurmCommandError as error:  # e.g. the controller restarting: wait it out
            if time.monotonic() - last_report >= report_s:
                report(f"array {array_id}: cannot read its state ({error}); still waiting")
                last_report = time.monotonic()
            time.sleep(poll_s)
            continue
        now = time.monotonic()
        for task in list(remaining):
            state = states.get(task)
            if state is not None and state.state in ACTIVE:
                ended_since.pop(task, None)
                continue
            if now - ended_since.setdefault(task, now) >= grace_s:
                remaining.remove(task)
                yield task, (None if has_result(task) else state.state if state else "gone")
        stuck = Counter(state.reason for task, state in states.items()
                        if task in remaining and state.state == "PENDING" and is_fatal(state.reason))
        if stuck:
            reason, count = stuck.most_common(1)[0]
            cancel_array(array_id)
            raise UnsatisfiableRequest(
                f"array {array_id}: {count} job(s) pending for {reason}: "
                f"{FATAL_REASONS.get(reason, 'a per-job limit of the QOS or association')}, which does not "
                f"resolve by itself. Cancelled the array; the next sweep runs what it did not finish")
        if now - last_report >= report_s:
            listed = {task: states[task] for task in remaining if task in states}
            report(f"array {array_id}: {summarise(listed, len(task_ids) - len(remaining))}")
            last_report = now
        time.sleep(poll_s)


def cancel_array(array_id: str) -> None:
    run_command(["scancel", array_id])
