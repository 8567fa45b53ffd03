"""Command line: `python -m repro sweep|run-index|results|reference export|verify ...` (see
`--help` of each).

Exit status: 0 when every run finished (ok or diverged), 1 when a run failed (the others still
ran, and the failures are listed) or, for `verify`, when a re-run differs from its record, 2 for
bad input (nothing ran).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from repro.runs.executors import ExecutorConfig, executor_config
from repro.runs.profiles import SLURM_RESOURCES


def _workspace(args):
    from repro.runs.run import Workspace

    return Workspace.create(args.results_dir, args.data_dir, reference_dir=args.reference)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="raw data folder (default: $REPRO_DATA_DIR, else the Hugging Face hub)")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results-dir", default="results", help="results folder (default: results)")
    _add_data_dir(parser)
    parser.add_argument("--reference", type=Path, default=None,
                        help="a read-only reference store (e.g. reference): runs it holds are not run again "
                             "(default: none)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m repro", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    sweep = commands.add_parser("sweep", help="run every unfinished run of a grid file (then, where the grid says "
                                              "extend_edges, extend each learning-rate grid at its edge and rerun)")
    sweep.add_argument("grid", type=Path, help="grid file (YAML), e.g. grids/cpu/subset_size.yaml")
    sweep.add_argument("--executor", default="serial",
                       help="serial | local[:workers=N] | slurm[:partition=NAME,cpus=N,mem_gb=N,gpus=N,at_once=N,"
                            "timeout_min=N] (default: serial); a setting may instead be given by its flag below")
    sweep.add_argument("--dry-run", action="store_true", help="print what would run and an estimate, offline (no model or data is "
                       "downloaded); run nothing")
    sweep.add_argument("--workers", type=int, default=None, help=f"local: processes (default: {ExecutorConfig.workers})")
    sweep.add_argument("--partition", default=None, help="slurm: partition")
    sweep.add_argument("--array-parallelism", type=int, default=None,
                       help=f"slurm: jobs running at once (default: {ExecutorConfig.array_parallelism})")
    for flag, field, what in (("--cpus", "cpus_per_job", "CPUs"), ("--mem-gb", "mem_gb", "GB of memory"),
                              ("--gpus", "gpus_per_job", "GPUs (0 on a CPU cluster)")):
        profiles = ", ".join(f"{name} {resources[field]}" for name, resources in SLURM_RESOURCES.items())
        sweep.add_argument(flag, type=int, default=None, help=f"slurm: {what} per job (default: the grid "
                                                               f"profile's: {profiles})")
    sweep.add_argument("--timeout-min", type=int, default=None,
                       help=f"slurm: minutes per job (default: {ExecutorConfig.timeout_min})")
    _add_common(sweep)

    index = commands.add_parser("run-index", help="run the INDEX-th run of a grid, without edge extension "
                                                 "(for any scheduler's array jobs)")
    index.add_argument("grid", type=Path)
    index.add_argument("index", type=int)
    _add_common(index)

    results = commands.add_parser("results", help="summary table of a results folder")
    results.add_argument("results_dir", type=Path)
    results.add_argument("--reference", type=Path, default=None, help="also the records of this reference store")

    reference = commands.add_parser("reference", help="the reference store of finished records (repro.runs.reference)")
    actions = reference.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="copy the records of a results folder (JSON only, never weights or "
                                               "caches) into the reference; existing records are never overwritten")
    export.add_argument("results_dir", type=Path)
    export.add_argument("--to", type=Path, default=None, help="the reference folder (default: the repository's "
                                                              "reference/)")
    export.add_argument("--grids", type=Path, default=None,
                        help="a folder of grid files (e.g. grids/reference): INDEX.json then counts runs per section")

    verify = commands.add_parser("verify", help="re-run N randomly drawn reference runs from scratch in a temporary "
                                                "folder and compare their metrics with the stored ones")
    verify.add_argument("--sample", type=int, required=True, help="how many runs to draw")
    verify.add_argument("--reference", type=Path, default=None,
                        help="the reference folder (default: the repository's reference/)")
    verify.add_argument("--seed", type=int, default=0, help="seed of the draw (default: 0)")
    verify.add_argument("--any-cpu", action="store_true",
                        help="draw from every record, not only those made on this CPU model (the default, when "
                             "there are any: on another model scores may differ by rounding)")
    _add_data_dir(verify)
    return parser


def _sweep(args) -> int:
    from repro.runs.grid_files import load_grid
    from repro.data.hub import HUB_SOURCES
    from repro.runs.estimate import start_line, workers_of
    from repro.runs.sweep import check_grid, failure_report, plan_sweep, run_study, run_sweep

    grid = load_grid(args.grid)
    executor = executor_config(args.executor, grid.profile, workers=args.workers, slurm_partition=args.partition,
                               array_parallelism=args.array_parallelism,
                               cpus_per_job=args.cpus, mem_gb=args.mem_gb, gpus_per_job=args.gpus,
                               timeout_min=args.timeout_min)
    workspace = _workspace(args)
    configs = grid.configs(workspace.data_source)
    if args.dry_run:  # offline: models and data are checked by the sweep itself, before any training
        check_grid(configs, workspace)
        plan = plan_sweep(configs, workspace, check_data=workspace.data_dir is not None)
        extension = "; grids are extended at their edges, those runs not counted" if grid.extend_edges else ""
        print(f"{args.grid}: {len(configs)} runs; compute left: {plan.pending_steps:,} optimizer steps{extension}\n"
              + start_line(plan.estimate, len(plan.finished), workers_of(executor)))
        offline_only = sorted({c.task for c in configs} - set(HUB_SOURCES)) if workspace.data_dir is None else []
        if offline_only:
            print(f"note: {', '.join(offline_only)} is not on the hub: the sweep needs --data-dir "
                  "(a local data folder)")
        return 0
    results = run_sweep(configs, workspace, executor)
    if grid.extend_edges:  # the paper's rule: extend every grid whose best rate is at an edge, and rerun
        runs = {config.run_id(): config for config in configs}
        for study in grid.studies() + grid.base_studies():
            study, _ = run_study(study, workspace, executor, extend_edges=True)
            runs.update({config.run_id(): config for config in study.configs(workspace.data_source)})
        results = [workspace.store.load(config) for config in runs.values()]
    statuses = [r.status for r in results]
    print(f"{len(results)} runs: " + ", ".join(f"{s} {statuses.count(s)}" for s in ("ok", "diverged", "failed")))
    if "failed" in statuses:  # the others finished; the next sweep retries these
        print(failure_report(results), file=sys.stderr)
        return 1
    return 0


def _run_index(args) -> int:
    from repro.runs.run import run_unless_finished
    from repro.runs.grid_files import load_grid

    workspace = _workspace(args)
    configs = load_grid(args.grid).configs(workspace.data_source)
    if not 0 <= args.index < len(configs):
        raise ValueError(f"index {args.index} is outside the grid's {len(configs)} runs (0..{len(configs) - 1})")
    config = configs[args.index]
    result = run_unless_finished(config, workspace)
    print(f"run {args.index} ({config.run_id()}): {result.status}")
    return 0 if result.status != "failed" else 1


def _results(args) -> int:
    import pandas as pd

    from repro.runs.learning_rate import summarise
    from repro.report.tables import results_table
    from repro.runs.store import ResultStore

    frame = ResultStore(args.results_dir, args.reference).to_frame()
    if frame.empty:
        raise ValueError(f"no results in {args.results_dir}")
    for (model, task), part in frame.groupby(["model", "task"]):
        print(f"\n{model} on {task}:")
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(results_table(summarise(part)).to_string())
    return 0


def _reference(args) -> int:
    from repro.runs.reference import REFERENCE_DIR, export

    target = args.to or REFERENCE_DIR
    report = export(args.results_dir, target, args.grids)
    print(f"{args.results_dir} -> {target}: {report.summary()}")
    for name in report.unreadable:
        print(f"unreadable, not exported: {args.results_dir / name}", file=sys.stderr)
    return 0


def _verify(args) -> int:
    from repro.runs.reference import REFERENCE_DIR
    from repro.runs.verify import verify

    checks = verify(args.reference or REFERENCE_DIR, args.sample, args.seed, args.data_dir, any_cpu=args.any_cpu)
    differing = [c for c in checks if not c.identical]
    print(f"{len(checks)} run(s) re-run: {len(checks) - len(differing)} identical, {len(differing)} differ")
    return 1 if differing else 0


def main(argv: list[str] | None = None) -> int:
    """Run a command and return its exit status (see the module docstring)."""
    args = build_parser().parse_args(argv)
    handler = {"sweep": _sweep, "run-index": _run_index, "results": _results, "reference": _reference,
               "verify": _verify}[args.command]
    try:
        return handler(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
