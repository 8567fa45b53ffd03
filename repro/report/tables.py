"""Tables of the book that put our summaries beside the paper's numbers."""
from __future__ import annotations

import numpy as np
import pandas as pd

from repro.runs.learning_rate import format_mean_std
from repro.report.paper_table1 import TABLE1, TABLE1_TASKS


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
        table[f"{task}: ours"] = [format_mean_std(m, s, int(n) if n == n else 0)
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
    table["mean rank: ours"] = _mean_rank(ours_ranks)
    if paper_ranks:
        table["mean rank: paper"] = _mean_rank(paper_ranks)
    return table


def _mean_rank(ranks: list[np.ndarray]) -> list[str]:
    stacked = np.vstack(ranks)
    counts = (~np.isnan(stacked)).sum(axis=0)
    sums = np.nansum(stacked, axis=0)
    return [f"{total / count:.1f}" if count else "" for total, count in zip(sums, counts)]
