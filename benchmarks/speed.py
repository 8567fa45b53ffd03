"""repro's masked trainer and selectors against the hardware floor: one run, one markdown report.

    python benchmarks/speed.py [--device cpu|cuda] [--repeats 15] [--threads 2] [--quick] [--data-dir DIR]

Every training-step variant runs on the SAME batches (minilm-l6, SST-2 training examples
tokenised by repro, batches of 16 grouped by length as the trainer does; synthetic tokens, said
so in the report, when the data folder lacks SST-2), round robin after warm-up; "x floor" is the
median over repetitions of a variant's time over the floor's in the same repetition. The floor
is forward + loss.backward() of the full model, no optimizer. Then: Fisher scoring batched vs
the per-sample loop, global top-k on 125M scores (fresh process: time and peak extra memory),
the data pipeline's share of a step, the goals of issue 6 ("met" / "missed by X") and where a
step's time goes. `--quick`: the tiny random model and few repetitions (the smoke test).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from benchmarks.report import Goal, Report, Row, human_bytes, verdict
from benchmarks.selection import compare_fisher, run_topk_probe
from benchmarks.steps import StepPlan, StepVariant, build_variants, dense_adamw_bytes
from benchmarks.timing import (load_average, machine_header, median_phases, median_seconds, paired_ratios, quartiles,
                               round_robin, synchronizer, top_operations)
from benchmarks.workload import Workload, load_workload, pipeline_epoch
from repro.data import DATA_DIR_ENV
from repro.models import DecoderSpec, TaskModel, build_task_model

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("forward", "backward", "optimizer")


@dataclass(frozen=True)
class Goals:
    """Issue 6's targets on the cpu profile."""

    step_ratio: float = 1.10  # masked step / floor, at every subset size up to `step_fraction`
    step_fraction: float = 1e-2
    state_per_entry: float = 16.0  # bytes per trained entry: two float32 moments + an int64 index
    state_share: float = 0.01  # optimizer state of the random `state_fraction` subset / dense AdamW's
    state_fraction: float = 1e-3
    fisher_speedup: float = 3.0  # per-sample loop time / batched time
    fisher_difference: float = 1e-5
    topk_seconds: float = 2.0
    topk_extra_bytes: float = 2e9


@dataclass(frozen=True)
class BenchConfig:
    model: str = "minilm-l6"
    device: str = "cpu"
    threads: int | None = None  # torch threads (None: torch's default)
    data_dir: Path = ROOT.parent / "shared" / "data"
    batch_size: int = 16
    examples: int = 2000  # SST-2 examples sampled: the batches and the data pipeline's epoch
    warmup: int = 3
    repeats: int = 15
    plan: StepPlan = StepPlan()
    fisher_samples: int = 64
    fisher_repeats: int = 3
    fisher_check_samples: int = 32  # compared in float64
    topk_scale: int = 1  # roberta-base's widths divided by this
    topk_fractions: tuple[float, ...] = (1e-3, 1e-1)
    topk_repeats: int = 3
    progress: bool = True


QUICK = dict(model="tiny-random", examples=160, warmup=1, repeats=3, fisher_samples=12, fisher_repeats=1,
             fisher_check_samples=6, topk_scale=8, topk_repeats=1)


def parse_args(argv: list[str] | None = None) -> BenchConfig:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, help="timed repetitions per step variant (default 15; quick 3)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="tiny random model, few repetitions (smoke test)")
    parser.add_argument("--data-dir", type=Path, help=f"data folder (default ${DATA_DIR_ENV}, else ../shared/data)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    config = BenchConfig(device=args.device, threads=args.threads, progress=not args.no_progress,
                         data_dir=args.data_dir or Path(os.environ.get(DATA_DIR_ENV) or BenchConfig.data_dir))
    if args.quick:
        config = replace(config, **QUICK)
    return replace(config, repeats=args.repeats) if args.repeats else config


def _is_state_row(v: StepVariant, goals: Goals) -> bool:
    return v.kind == "masked" and v.fraction == goals.state_fraction


def step_rows(config: BenchConfig, goals: Goals, report: Report, base: TaskModel, workload: Workload) -> float:
    """Time every step variant round robin and add its rows, goals and the costliest operators of
    the slowest masked step; returns the masked 1e-3 step's median seconds."""
    sync, batches = synchronizer(config.device), workload.batches
    with contextlib.ExitStack() as stack:
        variants = build_variants(base, config.plan, config.device, stack)
        timed = round_robin({v.name: (lambda r, v=v: v.run(batches[r % len(batches)], sync)) for v in variants},
                            warmup=config.warmup, repeats=config.repeats, progress=config.progress)
        worst_step = add_step_rows(goals, report, base, variants, timed)
        slowest = next(v for v in variants if v.name == worst_step)
        report.profile = (slowest.name, top_operations(lambda: slowest.run(batches[0], sync)))
    report.notes.append(f"Repetition r uses batch r, so step times vary with batch length; 'x floor' divides each "
                        f"step by the floor's on the same batch: median (interquartile range) of {config.repeats} "
                        f"repetitions after {config.warmup} of warm-up. The range shows the noise.")
    return median_phases(timed[next(v.name for v in variants if _is_state_row(v, goals))])["total"]


def add_step_rows(goals: Goals, report: Report, base: TaskModel, variants: list[StepVariant],
                  timed: dict[str, list]) -> str:
    """The step variants' rows, phases and goals; returns the name of the slowest masked step
    that has a step-time goal."""
    floor = timed[variants[0].name]
    dense, floor_phases = dense_adamw_bytes(base), median_phases(floor)
    worst_step, worst_entry, state_share = (0.0, ""), (0.0, ""), float("nan")
    for v in variants:
        phases = median_phases(timed[v.name])
        low, ratio, high = quartiles(paired_ratios(timed[v.name], floor))
        goal = []
        if v.kind == "masked" and v.fraction <= goals.step_fraction:
            goal.append(f"<= {goals.step_ratio:.2f}x: {verdict(ratio, goals.step_ratio, 'x')}")
            worst_step = max(worst_step, (ratio, v.name))
        if v.kind == "masked":
            worst_entry = max(worst_entry, (v.state_bytes / v.trained, v.name))
        if _is_state_row(v, goals):
            state_share = v.state_bytes / dense
            goal.append(f"state < {goals.state_share:.0%}: {verdict(state_share, goals.state_share)}")
        report.rows.append(Row(v.name, f"{phases['total'] * 1e3:.1f} ms", f"{ratio:.2f}x ({low:.2f}-{high:.2f})",
                               human_bytes(v.state_bytes) if v.kind != "floor" else "-",
                               f"{v.state_bytes / dense:.2%}" if v.kind != "floor" else "-", "; ".join(goal)))
        report.phases.append((v.name, {k: phases[k] for k in PHASES}, {k: phases[k] - floor_phases[k] for k in PHASES}))
    report.goals += [
        Goal(f"masked step <= {goals.step_ratio:.2f}x the floor at every subset size <= {goals.step_fraction:g}",
             f"worst {worst_step[0]:.2f}x ({worst_step[1]})", verdict(worst_step[0], goals.step_ratio, "x")),
        Goal(f"optimizer state proportional to k: <= {goals.state_per_entry:g} B per trained entry",
             f"worst {worst_entry[0]:.1f} B ({worst_entry[1]})", verdict(worst_entry[0], goals.state_per_entry, " B")),
        Goal(f"optimizer state at {goals.state_fraction:g} < {goals.state_share:.0%} of dense AdamW's",
             f"{state_share:.3%}", verdict(state_share, goals.state_share))]
    return worst_step[1]


def pipeline_row(config: BenchConfig, report: Report, workload: Workload, step_seconds: float) -> None:
    epoch = median_seconds({"epoch": lambda _: pipeline_epoch(workload, config.batch_size, config.device)},
                           synchronizer(config.device), warmup=0, repeats=3)["epoch"]
    seconds = epoch / len(workload.batches)
    report.rows.append(Row("data pipeline per batch (iterate_batches + collate + to device)", f"{seconds * 1e3:.2f} ms",
                           goal=f"{seconds / (seconds + step_seconds):.1%} of a masked 1e-3 step with it"))


def fisher_rows(config: BenchConfig, goals: Goals, report: Report, base: TaskModel, workload: Workload) -> None:
    n = min(config.fisher_samples, len(workload.encoded))
    fisher = compare_fisher(base, workload.encoded, pad_token_id=workload.pad_token_id, n_samples=n,
                            batch_size=config.batch_size, warmup=1, repeats=config.fisher_repeats,
                            check_samples=config.fisher_check_samples, device=config.device, progress=config.progress)
    speedup = statistics.median(loop / batched for batched, loop in zip(fisher.batched, fisher.loop))
    checked = min(n, config.fisher_check_samples)
    report.rows.append(Row(f"Fisher scoring, per-sample loop (N={n})", f"{statistics.median(fisher.loop):.2f} s"))
    report.rows.append(Row(f"Fisher scoring, batched (N={n}, batch {fisher.batch_size})",
                           f"{statistics.median(fisher.batched):.2f} s",
                           goal=f"{speedup:.1f}x faster: {verdict(speedup, goals.fisher_speedup, 'x', at_most=False)}"))
    report.goals += [
        Goal(f"Fisher scoring >= {goals.fisher_speedup:g}x faster than the per-sample loop", f"{speedup:.2f}x",
             verdict(speedup, goals.fisher_speedup, "x", at_most=False)),
        Goal(f"Fisher values equal the loop's (max relative difference <= {goals.fisher_difference:g})",
             f"{fisher.max_relative_difference:.1e} (float64, first {checked} samples); float32 run: "
             f"{fisher.float32_difference:.1e} of each tensor's largest score",
             verdict(fisher.max_relative_difference, goals.fisher_difference))]


def topk_rows(config: BenchConfig, goals: Goals, report: Report) -> None:
    probe = run_topk_probe(config.topk_scale, config.topk_fractions, config.topk_repeats, torch.get_num_threads())
    shape = "roberta-base" if config.topk_scale == 1 else f"roberta-base / {config.topk_scale} widths"
    worst_seconds, worst_extra = 0.0, 0
    for result in probe["results"]:
        seconds, extra = statistics.median(result["seconds"]), result["peak_extra_bytes"]
        worst_seconds, worst_extra = max(worst_seconds, seconds), max(worst_extra, extra)
        report.rows.append(Row(f"global top-k, {probe['total'] / 1e6:.1f}M scores ({shape}), k = {result['fraction']:g}",
                               f"{seconds:.2f} s", state=f"peak +{human_bytes(extra)}",
                               goal=f"< {goals.topk_seconds:g} s: {verdict(seconds, goals.topk_seconds, ' s')}"))
    report.goals += [
        Goal(f"global top-k on {probe['total'] / 1e6:.1f}M scores < {goals.topk_seconds:g} s",
             f"worst {worst_seconds:.2f} s", verdict(worst_seconds, goals.topk_seconds, " s")),
        Goal(f"... with < {human_bytes(goals.topk_extra_bytes)} extra memory", f"worst +{human_bytes(worst_extra)}",
             verdict(worst_extra / 1e9, goals.topk_extra_bytes / 1e9, " GB"))]


def main(argv: list[str] | None = None) -> None:
    config, goals = parse_args(argv), Goals()
    if config.threads:
        torch.set_num_threads(config.threads)
    report = Report(f"Speed of repro's masked trainer and selectors: {config.model}, {config.device}",
                    machine_header(config.device))
    workload = load_workload(config.model, config.data_dir, config.examples, config.batch_size, config.device)
    report.notes.append(f"Batches: {workload.source}; {len(workload.batches)} batches of {config.batch_size}, "
                        f"mean length {workload.mean_length:.1f} tokens.")
    base = build_task_model(config.model, DecoderSpec("sequence", 2), seed=0)
    step_seconds = step_rows(config, goals, report, base, workload)
    pipeline_row(config, report, workload, step_seconds)
    fisher_rows(config, goals, report, base, workload)
    topk_rows(config, goals, report)
    report.notes.append(f"Load average (1/5/15 min) at the end: {load_average()}.")
    print(report.markdown())


if __name__ == "__main__":
    main()
