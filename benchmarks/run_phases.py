"""Where a run's wall time goes, phase by phase, and runs per hour through the local pool.

    python benchmarks/run_phases.py [--quick] [--rounds 1] [--profile reference] [--data-dir DIR] [--out FILE]

A handful of real runs of a profile's schedule (`repro.runs.profiles.profile_settings`: the
reference profile's minilm-l6 and, per task, training size, epochs, validation split and max
length; one thread): on SST-2 random at 1e-3, BitFit, full fine-tuning, LoRA and largest
downstream sq-grad at 1e-3, on CoNLL-2003 random at 1e-3 (rates: the middle of each grid of
`grids/<profile>/_rates.yaml`). First, in this process and not timed, every cache a sweep fills
once is filled: the tokenised data, each task's initial decoder and its downstream statistics
(per thread count: part of a run's identity), so the timed runs are steady sweep work with the
statistics cached. Each round (the parts in a shuffled order, `benchmarks.timing.round_robin`)
then runs every run in this process, one after another, as a worker process runs them once its
caches are warm: their phases; and passes the first `RATE_RUNS` runs (SST-2 and CoNLL-2003 random)
through the local pool (`repro.runs.executors`, fresh worker processes) at each workers x threads
setting: runs per hour.

Phases are what each run's result records (`repro.runs.run.train_and_evaluate`); the table gives
per run the median over rounds and the overhead: the share of the run's wall time outside the
optimizer steps (goal: at most 15%). Runs per hour: runs x 3600 / the pool's wall time (process
start, imports and each worker's first model load and token read included: a short pass pays them
in full, a long sweep once per worker). `--batch-sizes` also times inference per example at
several batch sizes (one thread, CPU time, interleaved).
"""
from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import yaml
from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import markdown_table, verdict
from benchmarks.timing import clock, load_average, machine_header, round_robin
from repro.data import DATA_DIR_ENV
from repro.runs.config import RunConfig
from repro.runs.executors import ExecutorConfig, dispatch
from repro.runs.profiles import profile_settings
from repro.runs.run import Workspace, _model_with_decoder_first, _prepare, rebuild_selection_mask, run_one
from repro.runs.store import RunResult
from repro.training.evaluation import predict

ROOT = Path(__file__).resolve().parent.parent
PHASES = {"prepare_s": "data", "load_s": "model load", "decoder_s": "decoder", "select_s": "selection",
          "train_s": "training steps", "evaluate_s": "evaluation", "write_s": "writing"}
GOAL = 0.15  # at most this share of a run's wall time outside the training steps
# (task, selector, subset size): the handful of runs; the first RATE_RUNS are also timed at every pool setting
RUNS = (("sst2", "random", 1e-3), ("conll03", "random", 1e-3), ("sst2", "bitfit", None), ("sst2", "full", None),
        ("sst2", "lora", None), ("sst2", "largest_downstream_sqgrad", 1e-3))
RATE_RUNS = 2
QUICK_RUNS = (("sst2", "random", 1e-3), ("conll03", "random", 1e-3))


@dataclass(frozen=True)
class PhaseBenchmark:
    profile: str = "reference"
    runs: tuple = RUNS
    rate_runs: int = RATE_RUNS  # the first runs also pass through the pool at every setting
    settings: tuple[tuple[int, int], ...] = ((1, 1), (2, 1), (1, 2))  # (workers, torch threads per run)
    rounds: int = 1
    batch_sizes: tuple[int, ...] = ()  # inference batch sizes to time; () for none
    data_dir: Path = ROOT.parent / "shared" / "data"

    def configs(self, threads: int) -> list[RunConfig]:
        """The runs at the profile's scale on `threads` torch threads."""
        return [profile_run(self.profile, task, selector, size, threads) for task, selector, size in self.runs]


def profile_run(profile: str, task: str, selector: str, subset_size: float | None, threads: int,
                **changes) -> RunConfig:
    """One run at `profile`'s scale for `task`, at the middle rate of the selector's grid
    (`grids/<profile>/_rates.yaml`), with `changes` to any RunConfig field."""
    settings = profile_settings(profile, task)
    rates = yaml.safe_load((ROOT / "grids" / profile / "_rates.yaml").read_text())["learning_rates"]
    grid = sorted(float(rate) for rate in rates[selector])
    fields = dict(task=task, selector=selector, subset_size=subset_size, learning_rate=grid[(len(grid) - 1) // 2],
                  threads=threads, **{k: settings[k] for k in ("model", "epochs", "train_size", "val_size",
                                                              "max_length", "batch_size", "fisher_samples",
                                                              "pretrain_fisher_samples")})
    return RunConfig(**{**fields, **changes})


@dataclass
class Measured:
    """One setting's pass through the pool: its wall seconds and each run's result."""

    workers: int
    threads: int
    wall: float
    results: list[RunResult] = field(default_factory=list)
    load: str = ""

    @property
    def rate(self) -> float:
        return len(self.results) * 3600 / self.wall


def fill_caches(configs: list[RunConfig], workspace: Workspace) -> None:
    """Tokenised data, initial decoders and downstream statistics of `configs`, computed here once."""
    for config in configs:
        if config.selector == "largest_downstream_sqgrad":
            rebuild_selection_mask(config, workspace)  # the decoder, then the statistics it selects by
        else:
            _model_with_decoder_first(config, _prepare(config, workspace), workspace)


def measure_phases(configs: list[RunConfig], round_: int, workspace: Workspace) -> list[RunResult]:
    """The runs one after another in this process, whose caches are warm (a worker's steady state)."""
    configs = list(configs)
    random.Random(round_).shuffle(configs)
    results = [run_one(config, workspace) for config in tqdm(configs, desc=f"phases round {round_ + 1}", leave=False)]
    failed = [r for r in results if r.status != "ok"]
    if failed:
        raise SystemExit(f"{label(failed[0].config)}: {failed[0].status} {(failed[0].reason or '')[:500]}")
    return results


def measure_setting(configs: list[RunConfig], workers: int, threads: int, round_: int,
                    workspace: Workspace) -> Measured:
    """One pass of `configs` (in a seeded shuffled order) through a fresh local pool."""
    configs = list(configs)
    random.Random(round_ * 100 + workers * 10 + threads).shuffle(configs)
    measured, before = Measured(workers, threads, 0.0), load_average().split(" / ")[0]
    with tqdm(total=len(configs), desc=f"{workers}x{threads} round {round_ + 1}", leave=False) as bar:
        measured.wall = clock(lambda: dispatch(configs, workspace, ExecutorConfig("local", workers=workers),
                                               lambda result: (measured.results.append(result), bar.update())),
                              lambda: None)
    measured.load = f"{before} -> {load_average().split(' / ')[0]}"
    failed = [r for r in measured.results if r.status != "ok"]
    if failed:
        raise SystemExit(f"{label(failed[0].config)}: {failed[0].status} {(failed[0].reason or '')[:500]}")
    print(f"{workers}x{threads} round {round_ + 1}: {measured.rate:.0f} runs/hour", file=sys.stderr)
    return measured


def inference_seconds(bench: PhaseBenchmark, workspace: Workspace, repeats: int = 3) -> dict:
    """(task, batch size) -> median CPU seconds per example of predicting up to 800 test examples
    on one thread, the batch sizes interleaved."""
    times: dict = {}
    with_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for task in sorted({task for task, _, _ in bench.runs}):
            config = profile_run(bench.profile, task, "bitfit", None, 1)
            data = _prepare(config, workspace)
            model, _ = _model_with_decoder_first(config, data, workspace)
            encoded = data.test[:800]

            def timed(batch_size: int, encoded=encoded, model=model, pad=data.pad_token_id):
                def call(r: int) -> float:
                    started = time.thread_time()
                    predict(model, encoded, pad_token_id=pad, batch_size=batch_size)
                    return (time.thread_time() - started) / len(encoded)
                return call

            measured = round_robin({b: timed(b) for b in bench.batch_sizes}, warmup=1, repeats=repeats, progress=False)
            times.update({(task, b): statistics.median(v) for b, v in measured.items()})
    finally:
        torch.set_num_threads(with_threads)
    return times


def label(config: RunConfig) -> str:
    """E.g. "sst2 random 0.001", "conll03 lora:8"."""
    return f"{config.task} {config.variant}" + ("" if config.subset_size is None else f" {config.subset_size:g}")


def overhead(result: RunResult) -> float:
    return 1 - result.timings["train_s"] / result.timings["total_s"]


def markdown(bench: PhaseBenchmark, rates: list[Measured], phases: list[RunResult], inference: dict,
             minutes: float, header: list[str]) -> str:
    """The phase table (of `phases`, per run the median over rounds), the pool's rates and the
    inference timings."""
    by_run: dict = {label(config): [] for config in bench.configs(1)}
    for result in phases:
        by_run[label(result.config)].append(result)
    rows, overheads = [], []
    for name, results in by_run.items():
        total = statistics.median(r.timings["total_s"] for r in results)
        shares = [statistics.median(r.timings[p] / r.timings["total_s"] for r in results) for p in PHASES]
        share = statistics.median(overhead(r) for r in results)
        overheads.append(share)
        rows.append([name, len(results), f"{total:.1f}", *(f"{s:.0%}" for s in shares), f"{share:.0%}",
                     verdict(share * 100, GOAL * 100, " points", digits=2)])
    schedules = {c.task: f"{c.task} {c.train_size} x {c.epochs} epoch(s), max length {c.max_length}"
                 for c in bench.configs(1)}
    config = bench.configs(1)[0]
    lines = [f"# Run phases: where a run's wall time goes ({datetime.date.today():%Y-%m-%d})", "", *header,
             f"- profile {bench.profile}: {config.model}, batch {config.batch_size}, validation {config.val_size}; "
             f"{'; '.join(schedules.values())}; statistics and decoders cached; {bench.rounds} round(s); the whole "
             f"benchmark took {minutes:.1f} min", "",
             "## Share of each run's wall time by phase (one process, warm caches; median over rounds)", ""]
    lines += markdown_table(["run", "n", "total s", *PHASES.values(), "overhead", f"overhead <= {GOAL:.0%}"], rows,
                            "lrr" + "r" * len(PHASES) + "rl")
    middle = statistics.median(overheads)
    lines += ["", f"Overhead (outside the training steps), median over the runs: {middle:.0%}; goal <= {GOAL:.0%}: "
                  f"{verdict(middle * 100, GOAL * 100, ' points')}. Writing is the tuned weights; the result file (a "
                  "few kB) is written after the run's clock stops.", "", "## Runs per hour through the local pool", ""]
    lines += markdown_table(["workers x threads", "round", "runs", "wall s", "runs/hour", "load before -> after"],
                            [[f"{m.workers}x{m.threads}", r + 1, len(m.results), f"{m.wall:.0f}", f"{m.rate:.0f}",
                              m.load] for r, m in _with_rounds(rates)], "lrrrrl")
    per_setting = {f"{w}x{t}": statistics.median(m.rate for m in rates if (m.workers, m.threads) == (w, t))
                   for w, t in bench.settings}
    lines += ["", "Median runs/hour: " + ", ".join(f"{name} {rate:.0f}" for name, rate in per_setting.items())
              + f" (runs: {', '.join(label(c) for c in bench.configs(1)[:bench.rate_runs])})."]
    if inference:
        lines += ["", "## Inference: CPU ms per example by batch size (one thread, up to 800 test examples)", ""]
        sizes = sorted({b for _, b in inference})
        lines += markdown_table(["task", *map(str, sizes)],
                                [[task, *(f"{inference[(task, b)] * 1e3:.2f}" for b in sizes)]
                                 for task in sorted({t for t, _ in inference})], "l" + "r" * len(sizes))
    return "\n".join(lines) + "\n"


def _with_rounds(measured: list[Measured]):
    seen: dict = {}
    for m in measured:
        key = (m.workers, m.threads)
        yield seen.get(key, 0), m
        seen[key] = seen.get(key, 0) + 1


def parse_args(argv: list[str] | None = None) -> tuple[PhaseBenchmark, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs, settings 1x1 and 2x1")
    parser.add_argument("--rounds", type=int, default=PhaseBenchmark.rounds)
    parser.add_argument("--profile", default=PhaseBenchmark.profile)
    parser.add_argument("--batch-sizes", default="", help="inference batch sizes to time, e.g. 32,64,128")
    parser.add_argument("--data-dir", type=Path, help=f"data folder (default ${DATA_DIR_ENV}, else ../shared/data)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or Path(os.environ.get(DATA_DIR_ENV) or PhaseBenchmark.data_dir)
    bench = PhaseBenchmark(profile=args.profile, rounds=args.rounds, data_dir=data_dir,
                           batch_sizes=tuple(int(b) for b in args.batch_sizes.split(",") if b.strip()))
    if args.quick:
        bench = replace(bench, runs=QUICK_RUNS, rate_runs=1, settings=((1, 1), (2, 1)))
    return bench, args.out


def main(argv: list[str] | None = None) -> None:
    bench, out = parse_args(argv)
    started, header = time.perf_counter(), machine_header("cpu")
    with tempfile.TemporaryDirectory() as results:
        workspace = Workspace.create(results, bench.data_dir, device="cpu", progress=False)
        fill_caches(bench.configs(1), workspace)
        if 2 in {t for _, t in bench.settings}:
            fill_caches(bench.configs(2)[:bench.rate_runs], workspace)
        inference = inference_seconds(bench, workspace) if bench.batch_sizes else {}
        tasks = {setting: (lambda r, s=setting: measure_setting(bench.configs(s[1])[:bench.rate_runs], *s, r,
                                                                 workspace)) for setting in bench.settings}
        tasks["phases"] = lambda r: measure_phases(bench.configs(1), r, workspace)
        timed = round_robin(tasks, warmup=0, repeats=bench.rounds, progress=False)
    rates = [m for setting in bench.settings for m in timed[setting]]
    phases = [result for results in timed["phases"] for result in results]
    text = markdown(bench, rates, phases, inference, (time.perf_counter() - started) / 60, header)
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)


if __name__ == "__main__":
    main()
