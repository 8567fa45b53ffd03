"""Timing helpers, the one way every benchmark times: round-robin repetitions after warm-up,
medians, phase laps, the machine header, noise figures."""
from __future__ import annotations

import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import torch
from tqdm import tqdm

from repro.runs.store import cpu_model

Phases = dict[str, float]  # phase name -> seconds of one repetition
T = TypeVar("T")


def synchronizer(device: str) -> Callable[[], None]:
    """What waits for queued device work before a clock is read (nothing on the CPU)."""
    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


def round_robin(tasks: dict[str, Callable[[int], T]], *, warmup: int, repeats: int,
                progress: bool = True) -> dict[str, list[T]]:
    """Call every task once per repetition, so machine noise hits all alike; the order is
    shuffled (seeded) each repetition, so no task always follows the same one.

    Task(r) gets the repetition index (which batch to use) and returns its measurement (its
    phases' seconds, usually); the first `warmup` repetitions are discarded. Returns each
    task's timed repetitions."""
    names, rng = list(tasks), random.Random(0)
    timed: dict[str, list[T]] = {name: [] for name in names}
    for r in tqdm(range(warmup + repeats), desc="round robin", disable=not progress, leave=False):
        for name in rng.sample(names, len(names)):
            measured = tasks[name](r)
            if r >= warmup:
                timed[name].append(measured)
    return timed


def timed_calls(functions: dict[str, Callable[[int], object]], sync: Callable[[], None], *, warmup: int,
                repeats: int, now: Callable[[], float] = time.perf_counter,
                progress: bool = False) -> dict[str, list[float]]:
    """`round_robin` over plain calls: function(r) gets the repetition index; returns each
    function's seconds per timed repetition, read on `now` (see `clock`)."""
    tasks = {name: (lambda r, f=f: clock(lambda: f(r), sync, now)) for name, f in functions.items()}
    return round_robin(tasks, warmup=warmup, repeats=repeats, progress=progress)


def median_seconds(functions: dict[str, Callable[[int], object]], sync: Callable[[], None], *, warmup: int,
                   repeats: int, now: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """The median of each function's `timed_calls`."""
    timed = timed_calls(functions, sync, warmup=warmup, repeats=repeats, now=now)
    return {name: statistics.median(seconds) for name, seconds in timed.items()}


def total(phases: Phases) -> float:
    return sum(phases.values())


def median_phases(runs: list[Phases]) -> Phases:
    """The median of each phase over repetitions, and of their total (key "total")."""
    medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    medians["total"] = statistics.median(total(run) for run in runs)
    return medians


def paired_ratios(runs: list[Phases], reference: list[Phases]) -> list[float]:
    """total / reference total per repetition (same repetition, same batch)."""
    return [total(a) / total(b) for a, b in zip(runs, reference)]


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """(25th percentile, median, 75th percentile); the spread shows how noisy repetitions were."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return q1, statistics.median(values), q3


def clock(function: Callable[[], object], sync: Callable[[], None],
          now: Callable[[], float] = time.perf_counter) -> float:
    """Seconds one call of `function` takes, read on `now` (wall time by default)."""
    sync()
    start = now()
    function()
    sync()
    return now() - start


def thread_or_wall_clock(device: str) -> Callable[[], float]:
    """This thread's CPU time on the CPU with one torch thread (steady on a shared machine),
    else wall time."""
    return time.thread_time if device == "cpu" and torch.get_num_threads() == 1 else time.perf_counter


class Laps:
    """Phases of one repetition: each `mark(name)` waits for the device (`sync`) and records the
    seconds since the previous mark (or since the Laps was made) in `phases`."""

    def __init__(self, sync: Callable[[], None]):
        self.sync, self.phases = sync, {}
        sync()
        self._last = time.perf_counter()

    def mark(self, name: str) -> None:
        self.sync()
        now = time.perf_counter()
        self.phases[name], self._last = now - self._last, now


def top_operations(function: Callable[[], object], rows: int = 10) -> list[tuple[str, float, int]]:
    """(operator, self CPU milliseconds, calls) of the `rows` costliest operators of one call, by torch.profiler."""
    from torch.profiler import profile

    with profile() as prof:
        function()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:rows]
    return [(e.key, e.self_cpu_time_total / 1e3, e.count) for e in events]


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def machine_header(device: str) -> list[str]:
    """Markdown lines describing the machine, software and threads."""
    lines = [f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores",
             f"- torch {torch.__version__}, Python {platform.python_version()}, "
             f"{torch.get_num_threads()} torch threads, device {device}"]
    if device.startswith("cuda"):
        lines.append(f"- GPU: {torch.cuda.get_device_name(torch.device(device))}")
    lines.append(f"- load average (1/5/15 min) at start: {load_average()}")
    return lines
