"""Pilot behind the cpu profile's schedule: full fine-tuning of minilm-l6 per task at growing
training sizes and epochs, scored on validation only, and the rule that picks the schedule.

Runs (`pilot_configs`): the cpu grid's full fine-tuning runs (`grids/cpu/subset_size.yaml`: max
length 64, CoNLL-2003 128, batch 16, one thread, the middle rate of `_rates.yaml`'s `full` grid),
seed 0, validation 1,000 examples carved from the training split (300, the profile's, has a
binomial standard error near 2 points at 80%, too coarse to see 1), at train sizes 1,000-8,000
(capped at what the task has left after validation) and 1-3 epochs, wherever a run sees at most
`MAX_SEEN` examples (train_size x epochs). They run through the
project's sweep machinery (preflight, `plan_sweep`, the local executor with 2 workers) into
`results/pilot-schedule/` (resumable: finished runs are kept). Test scores are computed by every
run (`run_one` scores all splits) but never read here.

The rule (`choose_schedule`): per task, among the cells with a validation score that the reference
grid affords (`AFFORDABLE_SEEN` examples seen), the cheapest (fewest training examples x epochs)
whose score is within `tolerance` (0.01) of the best affordable one; `best` is the best of all.

Run: python pilots/schedule.py run DATA_DIR   (writes pilots/schedule.json and the figure after
every finished run); python pilots/schedule.py report DATA_DIR (only the JSON and the figure).
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "pilot-schedule"
OUT_JSON = ROOT / "pilots" / "schedule.json"
OUT_FIGURE = ROOT / "book" / "figures" / "schedule_pilot.png"

TASKS = ("sst2", "qnli", "conll03", "trec6")
TRAIN_SIZES = (1000, 2000, 4000, 8000)
EPOCHS = (1, 2, 3)
# The most training examples a pilot run sees (train_size x epochs; 4,500 lets TREC-6's 4,452 in): runs that
# see more take over ~110 CPU seconds (QNLI ~200) where a grid of ~2,000 runs in ~30 hours on 2 cores
# affords ~108 s a run; 1,000 x 1 timed at 105 s wall on the loaded machine (pilot log) made the 35-minute
# pilot drop them. `--max-seen 8000` adds 2,000 x 3, 4,000 x 2 and 8,000 x 1 (QNLI 3,370 x 2).
MAX_SEEN = 4500
# What the reference grid affords per run (examples seen), fixed before the pilot's larger cells had finished:
# ~2,000 runs in ~30 hours of 2 cores at ~25-35 CPU seconds per 1,000 examples seen (QNLI ~2x longer inputs).
AFFORDABLE_SEEN = {"sst2": 4000, "qnli": 3000, "conll03": 4000, "trec6": 4000}
VAL_SIZE = 1000
SEED = 0
TOLERANCE = 0.01        # the rule: within 1 point of the best validation score
CHEAP_SECONDS = 90.0    # a run dearer than this also gets the best cheaper option ...
CHEAP_TOLERANCE = 0.02  # ... within 2 points of the best
EPSILON = 1e-9          # scores exactly `tolerance` below the best count as within it


@dataclass(frozen=True)
class Cell:
    """One schedule of one task and what the pilot measured. score: validation score, None when
    the run is missing, failed or diverged; seconds: the run's total seconds (None: unknown)."""

    train_size: int
    epochs: int
    score: float | None
    seconds: float | None = None

    @property
    def cost(self) -> int:
        """Training examples seen: train_size x epochs (what a run's training time scales with)."""
        return self.train_size * self.epochs


def _scored(cells: list[Cell], max_seconds: float | None, max_seen: int | None = None) -> list[Cell]:
    return [c for c in cells if c.score is not None and math.isfinite(c.score)
            and (max_seconds is None or (c.seconds is not None and c.seconds <= max_seconds))
            and (max_seen is None or c.cost <= max_seen)]


def choose_schedule(cells: list[Cell], tolerance: float = TOLERANCE, max_seconds: float | None = None,
                    max_seen: int | None = None) -> Cell:
    """The cheapest cell (by `Cell.cost`; ties: the higher score, then fewer epochs) whose score
    is within `tolerance` of the best score among the affordable cells (scored, no dearer than
    `max_seconds` and seeing at most `max_seen` examples when given). ValueError when no cell
    qualifies or tolerance is negative."""
    if not tolerance >= 0:
        raise ValueError(f"tolerance {tolerance!r} must be >= 0")
    scored = _scored(cells, max_seconds, max_seen)
    if not scored:
        raise ValueError(f"no cell with a validation score{'' if max_seconds is None else f' within {max_seconds:g} s'}"
                         f" among {len(cells)} cell(s)")
    best = max(c.score for c in scored)
    within = [c for c in scored if c.score >= best - tolerance - EPSILON]
    return min(within, key=lambda c: (c.cost, -c.score, c.epochs))


def cheaper_option(cells: list[Cell], max_seconds: float = CHEAP_SECONDS,
                   tolerance: float = CHEAP_TOLERANCE) -> Cell | None:
    """The best-scoring cell (ties: the cheaper) that takes at most `max_seconds` and scores within
    `tolerance` of the best of all scored cells; None when there is none."""
    scored = _scored(cells, None)
    if not scored:
        return None
    best = max(c.score for c in scored)
    options = [c for c in _scored(cells, max_seconds) if c.score >= best - tolerance - EPSILON]
    return min(options, key=lambda c: (-c.score, c.cost), default=None)


def pilot_configs(data_dir, tasks=TASKS, epochs=EPOCHS, max_seen: int = MAX_SEEN) -> list:
    """Every pilot run, cheapest (train_size x epochs) first, so that partial results cover every
    task: each nominal size of `TRAIN_SIZES` capped at what the task has after validation (a
    capped size that repeats another cell runs once), each of `epochs`, where train_size x epochs
    is at most `max_seen`."""
    from repro.data import load_task
    from repro.runs.grid_files import section_study

    configs = {}
    for task in tasks:
        available = len(load_task(task, data_dir).train) - VAL_SIZE
        for size in TRAIN_SIZES:
            for n_epochs in epochs:
                if min(size, available) * n_epochs > max_seen:
                    continue
                study = section_study("subset_size", "cpu", task, selectors="full", rate_grid="middle", seeds=str(SEED),
                                      train_size=min(size, available), epochs=n_epochs, val_size=VAL_SIZE)
                configs.update((c.run_id(), c) for c in study.configs("local"))
    return sorted(configs.values(), key=lambda c: (c.train_size * c.epochs, TASKS.index(c.task)))


def collect(configs: list, workspace) -> list[dict]:
    """One row per pilot run (finished or not): its schedule, rate, seed, status, validation
    score and timings. Test scores are not read."""
    rows = []
    for config in configs:
        stored = workspace.store.load(config)
        timings = stored.timings if stored else {}
        ok = stored is not None and stored.status == "ok"
        rows.append(dict(task=config.task, train_size=config.train_size, epochs=config.epochs,
                         learning_rate=config.learning_rate, seed=config.seed, val_size=config.val_size,
                         max_length=config.max_length, run_id=config.run_id(),
                         status=stored.status if stored else "pending",
                         validation=stored.metrics.get("validation") if ok else None,
                         train_s=timings.get("train_s"), decoder_s=timings.get("decoder_s"),
                         decoder_cached=timings.get("decoder_cached"), total_s=timings.get("total_s")))
    return rows


def cells_of(rows: list[dict], task: str) -> list[Cell]:
    return [Cell(r["train_size"], r["epochs"], r["validation"], r["total_s"]) for r in rows if r["task"] == task]


def choices(rows: list[dict]) -> dict:
    """Per task with a scored run: the rule's choice, the best cell, and (when the choice takes
    more than `CHEAP_SECONDS`) the best cheaper option within `CHEAP_TOLERANCE`."""
    out = {}
    for task in TASKS:
        cells = cells_of(rows, task)
        if not _scored(cells, None):
            continue
        affordable = AFFORDABLE_SEEN[task]
        chosen, best = choose_schedule(cells, max_seen=affordable), choose_schedule(cells, tolerance=0.0)
        entry = dict(chosen=asdict(chosen), best=asdict(best), affordable_seen=affordable,
                     best_at_largest_size=best.train_size == max(c.train_size for c in cells),
                     runs_finished=len(_scored(cells, None)), runs_planned=len(cells))
        if chosen.seconds is not None and chosen.seconds > CHEAP_SECONDS:
            option = cheaper_option(cells)
            entry["cheaper_option"] = asdict(option) if option else None
        out[task] = entry
    return out


def plot(rows: list[dict], picked: dict, path: Path) -> None:
    """Validation score vs training examples, a line per epochs count, a panel per task, the
    rule's choice circled and the band within `TOLERANCE` of the best score shaded."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(6.4, 6.0), sharex=True, constrained_layout=True)
    for ax, task in zip(axes.flat, TASKS):
        for n_epochs, marker in zip(EPOCHS, "osD"):
            points = sorted((r["train_size"], r["validation"]) for r in rows
                            if r["task"] == task and r["epochs"] == n_epochs and r["validation"] is not None)
            if points:
                ax.plot(*zip(*points), marker=marker, lw=2, label=f"{n_epochs} epoch{'s' * (n_epochs > 1)}")
        if task in picked:
            chosen, best = picked[task]["chosen"], picked[task]["best"]["score"]
            ax.axhspan(best - TOLERANCE, best, color="0.85", zorder=0, label="within 1 point of best")
            ax.plot(chosen["train_size"], chosen["score"], "o", ms=18, mfc="none", mec="black", mew=2, label="chosen")
        ax.margins(y=0.12)
        ax.set_xscale("log", base=2)
        ticks = [size for size in TRAIN_SIZES if size <= max(r["train_size"] for r in rows)]
        ax.set_xticks(ticks, [f"{size // 1000}k" for size in ticks])
        ax.set_title(task, fontsize=14)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=12)
    for ax in axes[1]:
        ax.set_xlabel("training examples", fontsize=13)
    for ax in axes[:, 0]:
        ax.set_ylabel("validation score", fontsize=13)
    legend = {label: handle for ax in axes.flat for handle, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(legend.values(), legend.keys(), loc="outside lower center", ncol=3, fontsize=11, frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(configs: list, workspace, max_seen: int) -> dict:
    """Write `OUT_JSON` (every run and the choices) and `OUT_FIGURE`; returns the JSON's content."""
    rows = collect(configs, workspace)
    picked = choices(rows)
    content = dict(
        description="Schedule pilot (pilots/schedule.py): full fine-tuning of minilm-l6, seed 0, validation only; "
                    "seconds are the run records' wall total_s (longer when the machine is shared)",
        rule=f"cheapest (train_size x epochs) schedule whose validation score is within {TOLERANCE} of the best "
             f"pilot cell; if it takes more than {CHEAP_SECONDS:g} s, also the best cell within {CHEAP_TOLERANCE} of "
             f"the best that takes at most {CHEAP_SECONDS:g} s",
        val_size=VAL_SIZE, seed=SEED, train_sizes=list(TRAIN_SIZES), epochs=list(EPOCHS),
        max_examples_seen=max_seen, runs=rows, choices=picked)
    OUT_JSON.write_text(json.dumps(content, indent=1) + "\n")
    plot(rows, picked, OUT_FIGURE)
    return content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "report"))
    parser.add_argument("data_dir")
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated subset of the tasks")
    parser.add_argument("--max-seen", type=int, default=MAX_SEEN,
                        help="only cells with train_size x epochs at most this (1000: time one size first)")
    args = parser.parse_args()

    from repro.runs.executors import dispatch, executor_config
    from repro.runs.run import Workspace
    from repro.runs.sweep import plan_sweep, preflight

    workspace = Workspace.create(RESULTS, args.data_dir, device="cpu", progress=False)
    configs = pilot_configs(workspace.data_dir, max_seen=args.max_seen)
    if args.command == "run":
        tasks = args.tasks.split(",")
        todo = [c for c in configs if c.task in tasks]
        preflight(todo, workspace)
        plan = plan_sweep(todo, workspace)
        print(f"{len(plan.finished)} finished, {len(plan.pending)} pending", flush=True)

        done = iter(range(1, len(plan.pending) + 1))

        def on_result(result) -> None:
            c, t = result.config, result.timings
            print(f"[{next(done)}/{len(plan.pending)}] {c.task} n={c.train_size} epochs={c.epochs}: {result.status}, "
                  f"validation {result.metrics.get('validation')}, train {t.get('train_s', 0):.0f} s, total "
                  f"{t.get('total_s', 0):.0f} s", flush=True)
            report(configs, workspace, args.max_seen)

        dispatch(plan.pending, workspace, executor_config("local:workers=2"), on_result)
    content = report(configs, workspace, args.max_seen)
    print(json.dumps(content["choices"], indent=1))


if __name__ == "__main__":
    main()
