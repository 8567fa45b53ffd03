"""Runs per hour of short real cpu-profile runs for (local workers x torch threads per run) combinations.

    python benchmarks/throughput.py [--runs 4] [--rounds 2] [--train-size 256] [--data-dir DIR]

Every run is `repro.runs.run.run_one` through the `local` executor (a process pool), on SST-2
with the cpu profile's settings except a small training set, random 1e-3 subset, and its
`RunConfig.threads`. A first run per thread count, in this process and not timed, fills the
token and decoder caches that the timed runs share (as in a learning-rate sweep; the decoder
cache is per thread count, part of a run's identity), so the timings are of steady sweep work. The combinations run
round robin (`benchmarks.timing.round_robin`), `rounds` times, so machine noise shows as the
spread between rounds. Two rates:
"wall" counts the pool's start (imports in each worker), "steady" is workers x 3600 / the
median run's own seconds (what a long sweep approaches).
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import markdown_table
from benchmarks.timing import clock, load_average, round_robin
from repro.runs.store import cpu_model
from repro.runs.config import RunConfig
from repro.data import DATA_DIR_ENV
from repro.runs.executors import ExecutorConfig, dispatch
from repro.runs.run import Workspace, run_one

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ThroughputConfig:
    combinations: tuple[tuple[int, int], ...] = ((1, 1), (1, 2), (2, 1))  # (workers, torch threads per run)
    runs: int = 4  # per combination and round
    rounds: int = 2
    train_size: int = 256
    data_dir: Path = ROOT.parent / "shared" / "data"

    def run_config(self, learning_rate: float, threads: int) -> RunConfig:
        """The cpu profile's run (minilm-l6, max length 64, 1 epoch), smaller, on `threads` torch
        threads: distinct runs differ in lr."""
        return RunConfig(task="sst2", selector="random", subset_size=1e-3, learning_rate=learning_rate,
                         train_size=self.train_size, val_size=100, max_length=64, epochs=1, threads=threads)


@dataclass(frozen=True)
class Measurement:
    workers: int
    threads: int
    round: int
    wall_seconds: float
    run_seconds: list[float]  # each run's own total, from its result
    failed: int
    load: str  # load average (1 min) before -> after

    @property
    def wall_rate(self) -> float:
        return len(self.run_seconds) * 3600 / self.wall_seconds

    @property
    def median_run(self) -> float:
        return statistics.median(self.run_seconds) if self.run_seconds else float("nan")

    @property
    def steady_rate(self) -> float:
        return self.workers * 3600 / self.median_run


def measure(workers: int, threads: int, round_: int, configs: list[RunConfig], workspace: Workspace) -> Measurement:
    results, before = [], load_average().split(" / ")[0]
    executor = ExecutorConfig("local", workers=workers)
    wall = clock(lambda: dispatch(configs, workspace, executor, results.append), lambda: None)
    ok = [r for r in results if r.status == "ok"]
    return Measurement(workers, threads, round_, wall, [r.timings["total_s"] for r in ok], len(results) - len(ok),
                       f"{before} -> {load_average().split(' / ')[0]}")


def markdown(measurements: list[Measurement], config: ThroughputConfig) -> str:
    lines = ["# Throughput: runs per hour by (workers x torch threads)", "",
             f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores; load average before/after each measurement "
             f"in the table", f"- each run: sst2, random 1e-3, train_size {config.train_size}, 1 epoch, max length 64, "
             f"validation 100, test = SST-2 dev; {config.runs} runs per measurement", ""]
    lines += markdown_table(["workers x threads", "round", "wall s", "runs/hour (wall)", "median run s",
                             "runs/hour (steady)", "failed", "load before -> after"],
                            [[f"{m.workers}x{m.threads}", m.round, f"{m.wall_seconds:.1f}", f"{m.wall_rate:.0f}",
                              f"{m.median_run:.2f}", f"{m.steady_rate:.0f}", m.failed, m.load]
                             for m in measurements], "lrrrrrrl")
    best, medians = None, []
    for (workers, threads), group in itertools.groupby(sorted(measurements, key=lambda m: (m.workers, m.threads)),
                                                       key=lambda m: (m.workers, m.threads)):
        group = list(group)
        wall, steady = (statistics.median(getattr(m, rate) for m in group) for rate in ("wall_rate", "steady_rate"))
        medians.append([f"{workers}x{threads}", f"{wall:.0f}", f"{steady:.0f}"])
        best = max(best or (0.0, ""), (steady, f"{workers}x{threads}"))
    lines += ["", *markdown_table(["workers x threads", "runs/hour (wall), median of rounds",
                                   "runs/hour (steady), median of rounds"], medians, "lrr")]
    lines += ["", f"Highest steady rate: {best[1]} (workers x threads)."]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> ThroughputConfig:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=ThroughputConfig.runs)
    parser.add_argument("--rounds", type=int, default=ThroughputConfig.rounds)
    parser.add_argument("--train-size", type=int, default=ThroughputConfig.train_size)
    parser.add_argument("--data-dir", type=Path, help=f"data folder (default ${DATA_DIR_ENV}, else ../shared/data)")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or Path(os.environ.get(DATA_DIR_ENV) or ThroughputConfig.data_dir)
    return ThroughputConfig(runs=args.runs, rounds=args.rounds, train_size=args.train_size, data_dir=data_dir)


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    rates = (1e-3 * (1 + i / 1000) for i in itertools.count())
    with tempfile.TemporaryDirectory() as results:
        workspace = Workspace.create(results, config.data_dir, device="cpu", progress=False)
        for threads in sorted({t for _, t in config.combinations}):  # fill the token and decoder caches
            warm = run_one(config.run_config(next(rates), threads), workspace)
            if warm.status != "ok":
                raise SystemExit(f"the warm-up run on {threads} threads failed: {warm.reason}")

        def combination(workers: int, threads: int):
            def one_round(r: int) -> Measurement:
                configs = [config.run_config(next(rates), threads) for _ in range(config.runs)]
                measured = measure(workers, threads, r + 1, configs, workspace)
                print(f"{workers}x{threads} round {r + 1}: {measured.wall_rate:.0f} runs/hour", file=sys.stderr)
                return measured
            return one_round

        timed = round_robin({f"{w}x{t}": combination(w, t) for w, t in config.combinations}, warmup=0,
                            repeats=config.rounds, progress=False)
    measurements = sorted((m for rounds in timed.values() for m in rounds), key=lambda m: m.round)
    print(markdown(measurements, config))


if __name__ == "__main__":
    main()
