"""The cost page: issue 13's goals as data, parsers of the benchmarks' committed Markdown
outputs, the met / missed table generated from them, and the reference sweep's measured totals
and the dry run's forecast of what is left.

The benchmarks write Markdown into `BENCHMARK_DIR` (`benchmarks/results/`): `speed.py` (the step
benchmark, to stdout), `run_phases.py` and `estimate_check.py` (`--out`). The page reads those
files and times nothing itself unless asked to (`rerun`); a goal whose file is missing, or whose
file does not hold the measurement, is "not measured": no number is ever filled in.
"""
from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pandas as pd

from repro.runs.grid_files import GRIDS_DIR, SECTIONS, load_grid
from repro.runs.reference import reference_records
from repro.runs.run import Workspace
from repro.runs.sweep import plan_sweep

ROOT = Path(__file__).resolve().parents[2]  # the repository
BENCHMARK_DIR = ROOT / "benchmarks" / "results"
OUTPUTS = {"steps": "speed.md", "run_phases": "run_phases.md", "estimate": "estimate_check.md"}
NO_GPU = "not measured: no GPU was available to this reproduction (every benchmark here ran on the CPU)"


@dataclass(frozen=True)
class Goals:
    """Issue 13's targets (cpu profile; the step goals on `step_threads` torch threads)."""

    overhead: float = 0.15  # share of a run's wall time outside the training steps, on every benchmarked run
    step_small: float = 0.80  # masked step / forward+backward floor at every subset size <= small_size, and BitFit
    small_size: float = 1e-3
    step_large: float = 1.00  # ... at large_size
    large_size: float = 1e-2
    step_threads: int = 2
    estimate_error: float = 0.25  # |dry-run estimate / measured - 1| on a grid's total
    estimate_runs: int = 30  # ... of at least this many real runs


GOALS = Goals()


def verdict(value: float, limit: float, unit: str = "", digits: int = 2) -> str:
    """"met" when `value` <= `limit`, else "missed by X" (X = value - limit, in `unit`)."""
    return "met" if value <= limit else f"missed by {value - limit:.{digits}g}{unit}"


def markdown_tables(text: str) -> list[tuple[str, pd.DataFrame]]:
    """Every Markdown table of `text` (string cells) with the last heading above it ("" if none)."""
    tables, heading, block = [], "", []

    def close():
        if len(block) >= 2:
            rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in block]
            tables.append((heading, pd.DataFrame(rows[2:], columns=rows[0])))
        block.clear()

    for line in text.splitlines():
        if line.lstrip().startswith("|"):
            block.append(line)
            continue
        close()
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
    close()
    return tables


def _table_with(text: str, *columns: str) -> pd.DataFrame | None:
    return next((t for _, t in markdown_tables(text) if set(columns) <= set(t.columns)), None)


def _number(cell: str) -> float:
    """The leading number of a cell: "0.77x (0.70-0.85)" -> 0.77, "12%" -> 12.0."""
    match = re.match(r"\s*([-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?)", cell)
    if match is None:
        raise ValueError(f"no number at the start of the cell {cell!r}")
    return float(match.group(1))


def parse_steps(text: str) -> tuple[int | None, pd.DataFrame]:
    """The step benchmark (`benchmarks/speed.py`): its torch threads (None when not stated) and
    per masked step of repro's trainer (the sparse-gradient one) its `variant` ("random" or
    "bitfit"), `size` (None for BitFit) and `ratio` (median x floor)."""
    threads = re.search(r"(\d+) torch threads", text)
    table = _table_with(text, "measurement", "x floor")
    rows = []
    for name, ratio in ([] if table is None else zip(table["measurement"], table["x floor"])):
        random_step = re.match(r"masked step, random ([0-9.e+-]+) \(k=", name)
        if random_step:
            rows.append(("random", float(random_step.group(1)), _number(ratio)))
        elif name.startswith("masked step, BitFit"):
            rows.append(("bitfit", None, _number(ratio)))
    return (int(threads.group(1)) if threads else None), pd.DataFrame(rows, columns=["variant", "size", "ratio"])


def parse_run_phases(text: str) -> pd.DataFrame:
    """The run benchmark (`benchmarks/run_phases.py`): per run its `overhead`, the share of its
    wall time outside the training steps (the file prints whole per cents)."""
    table = _table_with(text, "run", "overhead")
    if table is None:
        return pd.DataFrame(columns=["run", "overhead"])
    return pd.DataFrame({"run": table["run"], "overhead": [_number(cell) / 100 for cell in table["overhead"]]})


ESTIMATE = re.compile(r"Estimate ([\d.]+) min of one worker for (\d+) runs, measured ([\d.]+) min")


def parse_estimate(text: str) -> pd.DataFrame:
    """The estimate check (`benchmarks/estimate_check.py`): per section ("From no record ...",
    "Resumed halfway ...") the `runs`, the `estimate` and `measured` minutes of one worker."""
    rows, heading = [], ""
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        match = ESTIMATE.search(line)
        if match:
            rows.append((heading, int(match.group(2)), float(match.group(1)), float(match.group(3))))
    return pd.DataFrame(rows, columns=["section", "runs", "estimate", "measured"])


def _row(goal: str, measured: str, status: str, source: str) -> dict:
    return {"goal": goal, "measured": measured, "status": status, "source": source}


def overhead_rows(text: str | None, goals: Goals = GOALS) -> list[dict]:
    goal = f"overhead <= {goals.overhead:.0%} of a run's wall time outside the training steps"
    source = OUTPUTS["run_phases"]
    runs = parse_run_phases(text) if text is not None else pd.DataFrame()
    if runs.empty:
        return [_row(goal, "", "not measured: " + ("no file" if text is None else "no per-run table"), source)]
    worst = runs.loc[runs["overhead"].idxmax()]
    measured = (f"worst {worst['overhead']:.0%} ({worst['run']}); median {statistics.median(runs['overhead']):.0%} "
                f"over {len(runs)} runs")
    return [_row(goal, measured, verdict(worst["overhead"] * 100, goals.overhead * 100, " points"), source)]


def step_rows(text: str | None, goals: Goals = GOALS) -> list[dict]:
    """One row per masked step with a goal: random at every size <= `small_size` and at
    `large_size`, and BitFit; a run on other than `step_threads` threads does not test them."""
    source = OUTPUTS["steps"]
    threads, steps = (None, pd.DataFrame(columns=["variant", "size", "ratio"])) if text is None else parse_steps(text)
    wanted = []
    for variant, size, ratio in steps.itertuples(index=False):
        if variant == "bitfit":
            wanted.append(("BitFit", ratio, goals.step_small))
        elif size <= goals.small_size or size == goals.large_size:
            limit = goals.step_small if size <= goals.small_size else goals.step_large
            wanted.append((f"random {size:g}", ratio, limit))
    if not wanted:
        reason = "no file" if text is None else "no masked step in the file"
        return [_row(f"masked step <= {goals.step_small:.2f}x the forward+backward floor (sizes <= "
                     f"{goals.small_size:g}, BitFit), <= {goals.step_large:.2f}x at {goals.large_size:g}", "",
                     f"not measured: {reason}", source)]
    rows = []
    for name, ratio, limit in wanted:
        status = verdict(ratio, limit, "x")
        if threads != goals.step_threads:
            status = (f"not measured on {goals.step_threads} threads (this run: {threads or 'unstated'}); "
                      f"at it: {status}")
        rows.append(_row(f"masked step, {name}: <= {limit:.2f}x the forward+backward floor", f"{ratio:.2f}x", status,
                         source))
    return rows


def estimate_rows(text: str | None, goals: Goals = GOALS) -> list[dict]:
    goal = (f"dry-run estimate within +-{goals.estimate_error:.0%} of the measured time, on >= "
            f"{goals.estimate_runs} real runs")
    checks = parse_estimate(text) if text is not None else pd.DataFrame()
    if checks.empty:
        reason = "no file" if text is None else "no estimate line in the file"
        return [_row(goal, "", f"not measured: {reason}", OUTPUTS["estimate"])]
    rows = []
    for section, runs, predicted, measured in checks.itertuples(index=False):
        error = predicted / measured - 1
        status = verdict(abs(error) * 100, goals.estimate_error * 100, " points")
        if runs < goals.estimate_runs:
            status = f"not measured: {runs} runs, fewer than {goals.estimate_runs}"
        rows.append(_row(f"{goal} ({section.split(':')[0].lower()})",
                         f"{error:+.0%} (estimate {predicted:.1f} min, measured {measured:.1f} min, {runs} runs)",
                         status, OUTPUTS["estimate"]))
    return rows


def goal_table(texts: Mapping[str, str | None], goals: Goals = GOALS) -> pd.DataFrame:
    """Every goal of issue 13 with what was measured and its status ("met", "missed by X", "not
    measured: why"), from the outputs' texts by `OUTPUTS` key (None: no file); the GPU goal last."""
    rows = (overhead_rows(texts.get("run_phases"), goals) + step_rows(texts.get("steps"), goals)
            + estimate_rows(texts.get("estimate"), goals))
    rows.append(_row("on a GPU: the paper profile's masked step against the full step, runs per hour, GPU-hours",
                     "", NO_GPU, ""))
    return pd.DataFrame(rows)


def read_outputs(folder: str | Path | None = None) -> dict[str, str | None]:
    """The text of each benchmark output in `folder` (default `BENCHMARK_DIR`), None when missing."""
    folder = Path(folder) if folder is not None else BENCHMARK_DIR
    return {key: (folder / name).read_text() if (folder / name).is_file() else None for key, name in OUTPUTS.items()}


def goal_sentences(table: pd.DataFrame) -> str:
    """Markdown under "What we found": how many goals are met, then each one that is not."""
    met = table["status"].eq("met")
    lines = [f"Of issue 13's {len(table)} goals, {int(met.sum())} are met on the committed benchmark outputs."]
    lines += [f"- {row.goal}: {row.status}" + (f" ({row.measured})" if row.measured else "")
              for row in table[~met].itertuples()]
    return "\n".join(lines)


def demoted(text: str, levels: int = 2) -> str:
    """Markdown with every heading `levels` deeper (a benchmark's "# Title" under a page section)."""
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + levels) + " ", text, flags=re.MULTILINE)


COMMANDS = {  # how each output is made, from the repository's root
    "steps": "python benchmarks/speed.py --threads 2 --no-progress > benchmarks/results/speed.md",
    "run_phases": "python benchmarks/run_phases.py --out benchmarks/results/run_phases.md",
    "estimate": "python benchmarks/estimate_check.py --out benchmarks/results/estimate_check.md",
}


def output_markdown(key: str, text: str | None) -> str:
    """A benchmark's output as the page shows it (`demoted` under the page's section), or, when
    there is none, that it was not measured and the command that measures it."""
    if text is None:
        return (f"Not measured: there is no `{OUTPUTS[key]}` among the benchmark outputs. This command writes it "
                f"(or execute this page with `-p rerun_benchmarks True`):\n\n```bash\n{COMMANDS[key]}\n```")
    return demoted(text)


def reference_totals(reference_dir: str | Path) -> pd.DataFrame:
    """Per task and in all, the reference store's finished records with their measured time: runs,
    hours (the sum of `total_s`) and runs per hour of one worker (runs x 3600 / that sum); empty
    when the store holds no record with timings."""
    records = [r for r in reference_records(reference_dir).values() if "total_s" in r.timings]
    if not records:
        return pd.DataFrame()
    frame = pd.DataFrame({"task": [r.config.task for r in records], "seconds": [r.timings["total_s"] for r in records]})
    groups = [(task, rows["seconds"]) for task, rows in frame.groupby("task")] + [("all", frame["seconds"])]
    return pd.DataFrame([{"task": task, "runs": len(seconds), "hours": seconds.sum() / 3600,
                          "runs per hour of one worker": len(seconds) * 3600 / seconds.sum()}
                         for task, seconds in groups])


def reference_forecast(reference_dir: str | Path, grids_dir: str | Path = GRIDS_DIR / "reference",
                       workers: int = 2) -> pd.DataFrame:
    """Per grid file of `grids_dir` and in all (a run shared by grids counted once): its runs,
    those the reference store holds, those left and the hours the sweep's dry run predicts for
    them with `workers` (`repro.runs.sweep.plan_sweep` of all grids' runs at once, calibrated on
    the store's records; a grid's hours are its runs' share of that plan, so a cost grids share,
    such as gradient statistics, counts where the plan first pays it; edge extensions and section
    4's secondary runs and probes are not counted). Run ids are made for the data source of the
    store's records; empty when it holds none."""
    sources = sorted({r.config.data_source for r in reference_records(reference_dir).values()})
    if not sources:
        return pd.DataFrame()
    grids = {name: [c for source in sources for c in load_grid(path).configs(source)]
             for name in SECTIONS if (path := Path(grids_dir) / f"{name}.yaml").exists()}
    grids["all"] = list({c.run_id(): c for configs in grids.values() for c in configs}.values())
    with tempfile.TemporaryDirectory(prefix="repro-forecast-") as folder:
        workspace = Workspace.create(Path(folder) / "results", None, device="cpu", progress=False,
                                     reference_dir=reference_dir, train=False)
        plan = plan_sweep(grids["all"], workspace, check_data=False)
    seconds = {c.run_id(): s for c, s in zip(plan.pending, plan.estimate.seconds)}
    rows = []
    for name, configs in grids.items():
        left = [seconds[c.run_id()] for c in configs if c.run_id() in seconds]
        rows.append({"grid": name, "runs": len(configs), "stored": len(configs) - len(left), "left": len(left),
                     f"predicted hours with {workers} workers": sum(s or 0.0 for s in left) / 3600 / workers,
                     "runs without an estimate": sum(s is None for s in left)})
    return pd.DataFrame(rows)


def rerun_commands(folder: Path, *, quick: bool = False, threads: int = GOALS.step_threads,
                   data_dir: str | None = None) -> dict[str, list[str]]:
    """The command of each benchmark by `OUTPUTS` key, writing into `folder` (the step benchmark
    prints; `rerun` writes its output)."""
    scripts = ROOT / "benchmarks"
    extra = (["--quick"] if quick else []) + (["--data-dir", str(data_dir)] if data_dir is not None else [])
    return {"steps": [sys.executable, str(scripts / "speed.py"), "--no-progress", "--threads", str(threads), *extra],
            "run_phases": [sys.executable, str(scripts / "run_phases.py"), "--out", str(folder / OUTPUTS["run_phases"]),
                           *extra],
            "estimate": [sys.executable, str(scripts / "estimate_check.py"), "--out",
                         str(folder / OUTPUTS["estimate"]), *extra]}


def rerun(folder: str | Path, **options) -> None:
    """Run every benchmark of `rerun_commands` (long: the run and estimate benchmarks train real
    runs) and write its output into `folder`; RuntimeError with the tail of stderr on a failure."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for key, command in rerun_commands(folder, **options).items():
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(command[1]).name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        if key == "steps":
            (folder / OUTPUTS[key]).write_text(done.stdout)
