"""The dry run's estimate against measured time, on a grid of real short runs.

    python benchmarks/estimate_check.py [--quick] [--seed 1] [--workers 2] [--print-defaults] [--out FILE]

The grid: at the reference profile's scale (minilm-l6, its validation split and per-task max length,
one thread per run) but short (200 or 400 training examples, 1 or 2 epochs), SST-2, TREC-6,
CoNLL-2003 and QNLI x random at 1e-3 and 1e-2, BitFit, full fine-tuning, LoRA and largest downstream
sq-grad at 1e-3, and German CoNLL: 31 runs (`--quick`: 12), from an empty results folder through
the local pool with `--workers`
processes, as a sweep runs them (initial decoders and statistics computed by the first run that
needs them). Then, per run and in total, the estimate (`repro.runs.estimate`) against the measured
seconds (each run's `total_s`):
- defaults: from no record (`estimate.DEFAULTS`, fitted on this grid at another seed: other
  training examples, decoders and statistics), the whole grid, as a dry run before any run;
- resumed: the first half of the runs (in the order they finished) as records, over the
  defaults, predicting the second half: a sweep resumed halfway.
The goal is within +-25% on the total. The pool's wall time is shown beside the estimate's
total / workers. `--print-defaults` prints the coefficients fitted on all runs, for `DEFAULTS`.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import markdown_table, verdict
from benchmarks.run_phases import ROOT, label, profile_run
from benchmarks.timing import clock, machine_header
from repro.data import DATA_DIR_ENV
from repro.runs.config import RunConfig
from repro.runs.estimate import Calibration, Estimate, calibrate, estimate
from repro.runs.executors import ExecutorConfig, dispatch
from repro.runs.run import Workspace
from repro.runs.store import RunResult
from repro.runs.sweep import training_steps

GOAL = 0.25  # the estimate's total within this share of the measured total
PROFILE = "reference"  # the scale whose runs the estimate must predict (the reference sweep's)
TASKS = ("sst2", "trec6", "conll03", "qnli")
VARIANTS = (("random", 1e-3), ("random", 1e-2), ("bitfit", None), ("full", None), ("lora", None),
            ("largest_downstream_sqgrad", 1e-3))
TWO_EPOCHS = (("sst2", "random", 1e-3), ("sst2", "full", None), ("trec6", "bitfit", None), ("trec6", "lora", None),
              ("qnli", "random", 1e-3))


def grid(seed: int, quick: bool = False) -> list[RunConfig]:
    """Per task the six variants (the first three on 200 training examples, the others on 400),
    German CoNLL's random 1e-3 and full, then five 2-epoch runs on 200 examples: 31 runs (quick:
    SST-2 and CoNLL-2003's six, 12 runs)."""
    def run(task, selector, size, **changes):
        return profile_run(PROFILE, task, selector, size, 1, seed=seed, **changes)

    configs = [run(task, selector, size, train_size=200 if i < 3 else 400, epochs=1)
               for task in (("sst2", "conll03") if quick else TASKS) for i, (selector, size) in enumerate(VARIANTS)]
    if not quick:
        configs += [run("conll03_de", selector, size, train_size=200, epochs=1)
                    for selector, size in (VARIANTS[0], VARIANTS[3])]
        configs += [run(task, selector, size, train_size=200, epochs=2) for task, selector, size in TWO_EPOCHS]
    return configs


def defaults_literal(calibration: Calibration) -> str:
    """The coefficients as `repro.runs.estimate.DEFAULTS` writes them: per key, rows packed into lines."""
    def cell(value) -> str:
        return f"{value:.3g}" if isinstance(value, float) else f'"{value}"' if isinstance(value, str) else repr(value)

    lines = ["DEFAULTS: dict = {"]
    for name, rows in calibration.to_dict().items():
        packed = [""]
        for row in sorted(rows, key=lambda r: [str(x) for x in r]):
            text = "[" + ", ".join(map(cell, row)) + "]"
            if packed[-1] and len(packed[-1]) + len(text) > 106:
                packed.append("")
            packed[-1] += (", " if packed[-1] else "") + text
        lines += [f'    "{name}": [', *(f"        {line}," for line in packed)]
        lines[-1] = lines[-1][:-1] + "],"
    return "\n".join(lines + ["}"])


def error(predicted: float, measured: float) -> float:
    return (predicted - measured) / measured


def section(title: str, results: list[RunResult], predicted: Estimate, workers: int) -> list[str]:
    measured = sum(r.timings["total_s"] for r in results)
    total = predicted.total
    lines = [f"## {title}", "",
             f"Estimate {total / 60:.1f} min of one worker for {len(results)} runs, measured {measured / 60:.1f} min: "
             f"{error(total, measured):+.0%} ({verdict(abs(error(total, measured)) * 100, GOAL * 100, ' points')} "
             f"for +-{GOAL:.0%}); {predicted.unknown} run(s) without an estimate; with {workers} workers "
             f"{total / workers / 60:.1f} min.", ""]
    rows = [[label(r.config), r.config.train_size, r.config.epochs, f"{r.timings['total_s']:.1f}",
             "-" if s is None else f"{s:.1f}", "-" if s is None else f"{error(s, r.timings['total_s']):+.0%}"]
            for r, s in zip(results, predicted.seconds)]
    table = markdown_table(["run", "train", "epochs", "measured s", "estimate s", "error"], rows, "lrrrrr")
    return lines + table + [""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 runs on SST-2 and CoNLL-2003")
    parser.add_argument("--seed", type=int, default=1, help="the runs' seed (DEFAULTS were fitted at seed 0)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--print-defaults", action="store_true", help="print the coefficients fitted on all runs")
    parser.add_argument("--data-dir", type=Path, help=f"data folder (default ${DATA_DIR_ENV}, else ../shared/data)")
    parser.add_argument("--out", type=Path, default=None, help="also write the report to this file")
    parser.add_argument("--keep", type=Path, default=None,
                        help="results folder to keep (default: a temporary one); must not exist yet")
    args = parser.parse_args(argv)
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep}: the folder exists; give a new one (the grid starts from nothing)")
    data_dir = args.data_dir or Path(os.environ.get(DATA_DIR_ENV) or ROOT.parent / "shared" / "data")
    configs, header, started = grid(args.seed, args.quick), machine_header("cpu"), time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Workspace.create(args.keep or scratch, data_dir, device="cpu", progress=False)
        steps = {c.run_id(): training_steps(c, workspace) for c in configs}
        from_scratch = estimate(configs, [steps[c.run_id()] for c in configs], [], args.workers)
        results: list[RunResult] = []
        with tqdm(total=len(configs), desc="runs") as bar:
            wall = clock(lambda: dispatch(configs, workspace, ExecutorConfig("local", workers=args.workers),
                                          lambda result: (results.append(result), bar.update())), lambda: None)
    failed = [r for r in results if r.status != "ok"]
    if failed:
        raise SystemExit(f"{len(failed)} run(s) did not finish ok: {label(failed[0].config)}: "
                         f"{(failed[0].reason or '')[:500]}")
    order = {c.run_id(): i for i, c in enumerate(configs)}
    in_grid_order = sorted(results, key=lambda r: order[r.config.run_id()])
    half = len(results) // 2
    first, second = results[:half], results[half:]  # in the order they finished
    resumed = estimate([r.config for r in second], [steps[r.config.run_id()] for r in second], first, args.workers)
    lines = [f"# The dry run's estimate against measured runs ({datetime.date.today():%Y-%m-%d})", "", *header,
             f"- {len(configs)} runs, seed {args.seed}, local pool of {args.workers} workers: wall {wall / 60:.1f} min "
             f"(the whole check {(time.perf_counter() - started) / 60:.1f} min)", ""]
    lines += section("From no record: the defaults", in_grid_order, from_scratch, args.workers)
    lines += section("Resumed halfway: the first half's records predict the second half", second, resumed,
                     args.workers)
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    if args.print_defaults:
        print(defaults_literal(calibrate(results)))


if __name__ == "__main__":
    main()
