"""Tables of the book's section 3 pages: our summaries formatted, and beside the paper's numbers.

Numeric columns follow one scheme: `mean`, `std`, `n` for ours, `paper mean`, `paper std` for the
paper's (prefixed "<measure> " where a table holds several); formatted ones read "<label>" for
ours and "<label>: paper" for the paper's.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from repro.report.paper_table1 import TABLE1, TABLE1_TASKS, table1
from repro.runs.grid_extension import at_cap


def format_mean_std(mean: float, std: float, n: int, digits: int = 4) -> str:
    """'0.9123 ± 0.0012 (n=5)'; one seed shows no spread: '0.9123 (n=1)'."""
    if np.isnan(mean):
        return "n/a"
    if np.isnan(std):
        return f"{mean:.{digits}f} (n={n})"
    return f"{mean:.{digits}f} ± {std:.{digits}f} (n={n})"


def results_table(summary: pd.DataFrame) -> pd.DataFrame:
    """`repro.runs.learning_rate.summarise` rows as the book shows them, one per (task, variant,
    realised subset size): test score, validation score and learning rate chosen on it, the grid
    tried, whether the choice is at its edge ("yes (cap)": at 0.1), and diverged/failed runs."""
    summary = summary.sort_values(["task", "selector", "fraction"])
    table = pd.DataFrame({
        "task": summary["task"], "variant": summary["selector"],
        "subset size": summary["fraction"].map(lambda f: f"{f:.2e}" if np.isfinite(f) else "n/a"),
        "test": [format_mean_std(m, s, n) for m, s, n in zip(summary["test_mean"], summary["test_std"], summary["n_seeds"])],
        "validation": summary["val_mean"].map(lambda v: f"{v:.4f}"),
        "chosen learning rate": summary["learning_rate"].map(lambda v: f"{v:g}"),
        "grid tried": summary["grid"].map(lambda g: ", ".join(f"{v:g}" for v in g)),
        "at edge": [("yes (cap)" if capped else "yes") if edge else ""
                    for edge, capped in zip(summary["at_edge"], at_cap(summary))],
        "diverged/failed": [f"{d}/{f}" for d, f in zip(summary["n_diverged"], summary["n_failed"])],
    })
    return table.set_index(["task", "variant", "subset size"])


def bitfit_size_table(summary: pd.DataFrame, task: str) -> pd.DataFrame:
    """Our rows at BitFit's subset size (and full fine-tuning) beside the paper's Table 1 column
    for `task` (none for a task outside it): realised subset size, mean, std, n, paper mean,
    paper std, one row per variant."""
    rows = summary[summary["subset_size"].isna()]
    ours = pd.DataFrame({"variant": rows["selector"], "subset size": rows["fraction"], "mean": rows["test_mean"],
                         "std": rows["test_std"], "n": rows["n_seeds"]})
    paper = (table1(task, list(ours["variant"])) if task in TABLE1_TASKS
             else pd.DataFrame({"variant": [], "paper mean": [], "paper std": []}))
    return ours.merge(paper, on="variant", how="left").round(4).set_index("variant")


def _ranks(scores: pd.Series) -> pd.Series:
    """1 = best (highest); ties share the better rank; missing scores get no rank."""
    return scores.rank(ascending=False, method="min")


def selection_table(summary: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    """Table 1 beside the paper: one row per variant of `summary` (`repro.runs.learning_rate.summarise`
    output at BitFit's subset size), and per task our test score (mean ± std, seeds), our rank
    among the variants shown, and the paper's score and rank among the same variants. The last
    columns average the ranks over the tasks that have them."""
    variants = list(dict.fromkeys(summary["selector"]))
    table = pd.DataFrame(index=pd.Index(variants, name="variant"))
    ours_ranks, paper_ranks = [], []
    for task in tasks:
        rows = summary[summary["task"] == task].set_index("selector").reindex(variants)
        ranks = _ranks(rows["test_mean"])
        table[task] = [format_mean_std(m, s, int(n) if n == n else 0)
                                  for m, s, n in zip(rows["test_mean"], rows["test_std"], rows["n_seeds"])]
        table[f"{task}: rank"] = ranks.map(lambda r: "" if np.isnan(r) else f"{r:.0f}").to_numpy()
        ours_ranks.append(ranks.to_numpy())
        if task in TABLE1_TASKS:
            column = TABLE1_TASKS.index(task)
            paper = pd.Series({v: TABLE1[v][column][0] for v in variants if v in TABLE1}).reindex(variants)
            paper_std = pd.Series({v: TABLE1[v][column][1] for v in variants if v in TABLE1}).reindex(variants)
            paper_rank = _ranks(paper)
            table[f"{task}: paper"] = [format_mean_std(m, s, 5) for m, s in zip(paper, paper_std)]
            table[f"{task}: paper rank"] = paper_rank.map(lambda r: "" if np.isnan(r) else f"{r:.0f}").to_numpy()
            paper_ranks.append(paper_rank.to_numpy())
    table["mean rank"] = _mean_rank(ours_ranks)
    if paper_ranks:
        table["mean rank: paper"] = _mean_rank(paper_ranks)
    return table


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
