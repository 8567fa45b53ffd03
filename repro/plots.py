"""Figures of the book; every one has labelled axes (captions live in the notebooks)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

MARKERS = {"random": "o", "bitfit": "s", "full": "D", "largest_downstream_sqgrad": "P",
           "largest_pretrain_sqgrad": "X", "combined": "*", "lora": "v"}


def plot_score_vs_subset_size(summary: pd.DataFrame, *, metric: str, title: str, ax=None):
    """Fig. 3: test score (mean ± std over seeds) against the realised subset size, one line
    per selector, log x axis. Learning rates chosen at the edge of their grid get a red
    triangle (as the paper's Fig. 2). Returns the figure."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.2))
    edge_label = "learning rate at the edge of its grid"
    for selector, rows in summary.dropna(subset=["test_mean"]).groupby("selector", sort=True):
        rows = rows.sort_values("fraction")
        if selector == "full":  # the ceiling: a reference line across all sizes
            ax.axhline(rows["test_mean"].iloc[0], color="grey", linestyle="--", label="full fine-tuning")
        ax.errorbar(rows["fraction"], rows["test_mean"], yerr=rows["test_std"].fillna(0.0).to_numpy(),
                    marker=MARKERS.get(selector, "^"), capsize=3, label=selector, linestyle="-" if len(rows) > 1 else "none")
        edge = rows[rows["at_edge"]]
        if len(edge):
            ax.scatter(edge["fraction"], edge["test_mean"], marker="v", s=90, facecolors="none", edgecolors="red",
                       zorder=5, label=edge_label)
            edge_label = None
    ax.set_xscale("log")
    ax.set_xlabel("subset size (fraction of encoder parameters, log scale)")
    ax.set_ylabel(f"test {metric}")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return ax.figure


def results_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as the book shows it: one row per selector and size, formatted."""
    from repro.analysis import format_mean_std
    from repro.grid_extension import at_cap

    summary = summary.sort_values(["selector", "fraction"])
    table = pd.DataFrame({
        "selector": summary["selector"],
        "subset size": summary["fraction"].map(lambda f: f"{f:.2e}" if np.isfinite(f) else "n/a"),
        "test score": [format_mean_std(m, s, n) for m, s, n in zip(summary["test_mean"], summary["test_std"], summary["n_seeds"])],
        "validation": summary["val_mean"].map(lambda v: f"{v:.4f}"),
        "learning rate": summary["learning_rate"].map(lambda v: f"{v:g}"),
        "grid": summary["grid"].map(lambda g: ", ".join(f"{v:g}" for v in g)),
        "at edge": [("yes (cap)" if capped else "yes") if edge else ""
                    for edge, capped in zip(summary["at_edge"], at_cap(summary))],
        "diverged/failed": [f"{d}/{f}" for d, f in zip(summary["n_diverged"], summary["n_failed"])],
    })
    return table.set_index("selector")
