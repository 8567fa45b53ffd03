"""Tables of the book's section 3 pages, as they are shown: our summaries beside the paper's numbers.

One format per quantity, everywhere: scores with `SCORE_DIGITS` decimals ("0.912 ± 0.004", mean
± std over seeds; one seed: the mean alone), the seed count in its own column `n`, learning
rates as "1e-3" / "2.5e-4" (`format_rate`), subset sizes as a percentage of the encoder with
three significant digits (`format_share`). Headers name the metric ("test accuracy", "test F1
(entity)"). Tables are plain frames whose key columns come first; `book_table` shows one
without an index column, so the first column (kept in view by the book's CSS) is a key.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from repro.report.figures import metric_label, percent
from repro.report.paper_table1 import TABLE1, TABLE1_TASKS
from repro.runs.grid_extension import at_cap

SCORE_DIGITS = 3
PAPER_SETTING = "roberta-base, 5 seeds"


def format_mean_std(mean: float, std: float, digits: int = SCORE_DIGITS) -> str:
    """'0.912 ± 0.001'; without a spread (one seed) the mean alone; '' when there is no mean."""
    if mean is None or np.isnan(mean):
        return ""
    return f"{mean:.{digits}f}" if std is None or np.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def mean_std_column(means, stds) -> list[str]:
    """`format_mean_std` of each (mean, std) pair."""
    return [format_mean_std(mean, std) for mean, std in zip(means, stds)]


def format_rate(rate: float) -> str:
    """A learning rate in one format: 0.001 -> '1e-3', 0.0025 -> '2.5e-3', 0.1 -> '1e-1'; NaN -> ''."""
    if rate is None or np.isnan(rate):
        return ""
    mantissa, exponent = f"{rate:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def format_share(fraction: float) -> str:
    """A subset size as a percentage of the encoder, 3 significant digits: 8.13e-4 -> '0.0813%'; NaN -> ''."""
    return "" if fraction is None or np.isnan(fraction) else percent(fraction)


def score_header(tasks) -> str:
    """'test accuracy' or 'test F1 (entity)' when `tasks` share a metric, else 'test score'."""
    metrics = {metric_label(task) for task in tasks}
    return f"test {metrics.pop()}" if len(metrics) == 1 else "test score"


def paper_table1_cell(task: str, variant: str) -> str:
    """The paper's Table 1 score of `variant` on `task` (mean ± std), '' where it has none."""
    if task not in TABLE1_TASKS or variant not in TABLE1:
        return ""
    return format_mean_std(*TABLE1[variant][TABLE1_TASKS.index(task)])


def results_table(summary: pd.DataFrame) -> pd.DataFrame:
    """`repro.runs.learning_rate.summarise` rows as the book shows them, one per (task, variant,
    realised subset size): the test score at the rate chosen on validation and its seeds `n`,
    the paper's Table 1 score where the cell is one of Table 1's (BitFit's size), the validation
    score, the chosen rate and the grid tried, whether the choice is at the grid's edge ("yes
    (cap)": at 0.1), and how many runs diverged, failed or are pending. The task column is
    left out when there is one task."""
    summary = summary.sort_values(["task", "selector", "fraction"])
    tasks = list(dict.fromkeys(summary["task"]))
    score, metric = score_header(tasks), score_header(tasks).removeprefix("test ")
    size = [f if np.isfinite(f) else (s if s == s else np.nan) for f, s in zip(summary["fraction"], summary["subset_size"])]
    table = pd.DataFrame({"task": summary["task"] if score != "test score" else
                          [f"{t}: {metric_label(t)}" for t in summary["task"]],
                          "variant": summary["selector"], "subset size (% of encoder)": [format_share(s) for s in size],
                          f"{score} (mean ± std)": mean_std_column(summary["test_mean"], summary["test_std"]),
                          "n": summary["n_seeds"].astype(int)})
    at_table1 = summary["subset_size"].isna()
    paper = [paper_table1_cell(t, v) if here else "" for t, v, here in zip(summary["task"], summary["selector"], at_table1)]
    if any(paper):
        table[f"paper, Table 1 ({PAPER_SETTING})"] = paper
    table[f"validation {metric} (mean)"] = summary["val_mean"].map(lambda v: "" if np.isnan(v) else f"{v:.{SCORE_DIGITS}f}")
    table["learning rate (chosen)"] = summary["learning_rate"].map(format_rate)
    table["rates tried"] = summary["grid"].map(lambda g: ", ".join(format_rate(v) for v in g))
    table["at edge"] = [("yes (cap)" if capped else "yes") if edge else ""
                        for edge, capped in zip(summary["at_edge"], at_cap(summary))]
    counts = ["n_diverged", "n_failed"] + (["n_pending"] if summary.get("n_pending", pd.Series(0)).any() else [])
    table["runs " + "/".join(c.removeprefix("n_") for c in counts)] = [
        "/".join(str(int(v)) for v in values) for values in zip(*(summary[c] for c in counts))]
    return (table if len(tasks) > 1 else table.drop(columns="task")).reset_index(drop=True)


def bitfit_size_table(summary: pd.DataFrame, task: str) -> pd.DataFrame:
    """Our rows at BitFit's subset size (and full fine-tuning) beside the paper's Table 1 column
    for `task` (empty for a task outside it): variant, realised subset size, our test score and
    seeds, the paper's score."""
    rows = summary[summary["subset_size"].isna() & (summary["task"] == task)]
    score = score_header([task])
    return pd.DataFrame({"variant": rows["selector"], "subset size (% of encoder)": rows["fraction"].map(format_share),
                         f"{score} (mean ± std)": mean_std_column(rows["test_mean"], rows["test_std"]),
                         "n": rows["n_seeds"].astype(int),
                         f"paper ({PAPER_SETTING})": [paper_table1_cell(task, v) for v in rows["selector"]]}
                        ).reset_index(drop=True)


def _ranks(scores: pd.Series) -> pd.Series:
    """1 = best (highest); ties share the better rank; missing scores get no rank."""
    return scores.rank(ascending=False, method="min")


def _rank_text(ranks: pd.Series) -> np.ndarray:
    return ranks.map(lambda r: "" if np.isnan(r) else f"{r:.0f}").to_numpy()


def selection_table(summary: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    """Table 1 beside the paper: one row per variant of `summary` (`repro.runs.learning_rate.summarise`
    output at BitFit's subset size); per task our test score (mean ± std over seeds), our rank
    among the variants shown, the paper's score and its rank among the same variants; the seeds
    `n` (per task when they differ); the ranks averaged over the tasks that have them."""
    variants = list(dict.fromkeys(summary["selector"]))
    table = pd.DataFrame({"variant": variants})
    ours_ranks, paper_ranks, seeds = [], [], {}
    for task in tasks:
        rows = summary[summary["task"] == task].set_index("selector").reindex(variants)
        ranks = _ranks(rows["test_mean"])
        table[f"{task}: {score_header([task])}"] = mean_std_column(rows["test_mean"], rows["test_std"])
        table[f"{task}: rank"] = _rank_text(ranks)
        ours_ranks.append(ranks.to_numpy())
        seeds[task] = rows["n_seeds"].fillna(0).astype(int).to_numpy()
        if task in TABLE1_TASKS:
            paper = pd.Series({v: TABLE1[v][TABLE1_TASKS.index(task)][0] for v in variants if v in TABLE1}).reindex(variants)
            table[f"{task}: paper"] = [paper_table1_cell(task, v) for v in variants]
            table[f"{task}: paper rank"] = _rank_text(_ranks(paper))
            paper_ranks.append(_ranks(paper).to_numpy())
    table.insert(1, "n", [_seed_counts({t: n[i] for t, n in seeds.items()}) for i in range(len(variants))])
    table["mean rank"] = _mean_rank(ours_ranks)
    if paper_ranks:
        table["mean rank: paper"] = _mean_rank(paper_ranks)
    return table


def _seed_counts(per_task: dict[str, int]) -> str:
    """'3' when every task has the same seed count, else 'sst2 3, trec6 1'."""
    counts = set(per_task.values())
    return str(counts.pop()) if len(counts) == 1 else ", ".join(f"{t} {n}" for t, n in per_task.items())


def _mean_rank(ranks: list[np.ndarray]) -> list[str]:
    stacked = np.vstack(ranks)
    counts = (~np.isnan(stacked)).sum(axis=0)
    sums = np.nansum(stacked, axis=0)
    return [f"{total / count:.1f}" if count else "" for total, count in zip(sums, counts)]


SELECTION_COSTS = {
    "sel_k": "k", "sel_seconds": "selection s", "sel_stat_downstream_samples": "downstream N",
    "sel_stat_downstream_seconds": "downstream Fisher s", "sel_stat_pretraining_samples": "pretraining N",
    "sel_stat_pretraining_seconds": "pretraining Fisher s (incl. MLM decoder)", "sel_stat_backward_passes": "backward passes",
    "sel_stat_pruning_steps": "L1 run steps", "sel_stat_pruning_seconds": "L1 run training s",
    "time_train_s": "training s",
}


def selection_costs(frame: pd.DataFrame, by: tuple[str, ...] = ("selector",)) -> pd.DataFrame:
    """What selecting and training cost, per group of `ok` runs (`ResultStore.to_frame()` rows):
    the largest value of each recorded cost, i.e. a first computation rather than a cache hit
    (statistics and diff pruning's L1 run are computed once and reused). Columns named as in
    `SELECTION_COSTS`; NaN where a variant needs no such step; empty without ok runs."""
    ok = frame[frame["status"] == "ok"] if "status" in frame else frame
    present = [column for column in SELECTION_COSTS if column in ok]
    if ok.empty or not present:
        return pd.DataFrame()
    costs = ok.groupby(list(by))[present].max().rename(columns=SELECTION_COSTS)
    costs.index.names = ["variant" if name == "selector" else name for name in by]
    return costs


def book_table(frame: pd.DataFrame, caption: str | None = None, decimals: int = 1):
    """How the book shows a table: a pandas Styler without an index column (a default range
    index is dropped, any other becomes the first columns, named by its names), HTML in cells
    kept, numbers left as numbers formatted per column (whole numbers with thousands
    separators, others with `decimals`), blanks for missing values, and `caption` above it."""
    frame = frame.reset_index(drop=isinstance(frame.index, pd.RangeIndex))
    formats = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            whole = bool(np.all(np.mod(values.dropna(), 1) == 0))
            formats[column] = "{:,.0f}" if whole else f"{{:,.{decimals}f}}"
    styler = frame.style.hide(axis="index").format(formats, na_rep="")
    return styler.set_caption(caption) if caption else styler
