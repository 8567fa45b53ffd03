"""Figures of the book; every one has labelled axes (captions live in the notebooks)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from repro.data import get_task_spec

MARKERS = {"random": "o", "bitfit": "s", "full": "D", "largest_downstream_sqgrad": "P",
           "largest_pretrain_sqgrad": "X", "combined": "*", "lora": "v", "diff_pruning": "h",
           "diff_pruning_no_retrain": "H"}

METRIC_LABELS = {"accuracy": "accuracy", "entity_f1": "entity F1"}


def metric_label(task: str) -> str:
    """How a task's test score is named on an axis: "accuracy" or "entity F1" (CoNLL)."""
    return METRIC_LABELS[get_task_spec(task).metric]


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


def plot_selected_learning_rates(frame: pd.DataFrame, summary: pd.DataFrame, variants: list[str] | None = None):
    """Figs. 2 and 4: per variant, the learning rates tried (grey; x = diverged or failed) and
    the one chosen on validation (black) at each subset size; a choice at the edge of its grid
    is a red triangle, filled at the cap (0.1). Log axes. Returns the figure."""
    from repro.runs.grid_extension import at_cap

    variants = variants or sorted(summary["selector"].unique())
    columns = min(3, len(variants))
    rows_needed = -(-len(variants) // columns)
    figure, axes = plt.subplots(rows_needed, columns, figsize=(4.2 * columns, 3.4 * rows_needed), squeeze=False,
                                sharey=True)
    capped = at_cap(summary)
    fractions = frame.groupby(["selector", frame["subset_size"].fillna(-1.0)])["sel_fraction"].max()
    for ax, variant in zip(axes.flat, variants):
        tried = frame[frame["selector"] == variant]
        x = [fractions.get((variant, -1.0 if pd.isna(s) else s), np.nan) for s in tried["subset_size"]]
        ok = (tried["status"] == "ok").to_numpy()
        ax.scatter(np.asarray(x)[ok], tried["learning_rate"][ok], color="lightgrey", s=18, label="tried")
        if (~ok).any():
            ax.scatter(np.asarray(x)[~ok], tried["learning_rate"][~ok], color="grey", marker="x", s=22,
                       label="tried: diverged/failed")
        chosen = summary[(summary["selector"] == variant) & summary["learning_rate"].notna()]
        inside = chosen[~chosen["at_edge"]]
        ax.scatter(inside["fraction"], inside["learning_rate"], color="black", s=30, label="chosen", zorder=4)
        edge = chosen[chosen["at_edge"] & ~capped[chosen.index]]
        ax.scatter(edge["fraction"], edge["learning_rate"], marker="^", facecolors="none", edgecolors="red", s=70,
                   label="chosen at the grid's edge", zorder=5)
        cap = chosen[capped[chosen.index]]
        ax.scatter(cap["fraction"], cap["learning_rate"], marker="^", color="red", s=70,
                   label="chosen at the cap (0.1)", zorder=5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(variant, fontsize="medium")
        ax.set_xlabel("subset size (fraction, log)")
        ax.set_ylabel("learning rate (log)")
        ax.grid(True, which="major", alpha=0.3)
    for ax in list(axes.flat)[len(variants):]:
        ax.set_visible(False)
    handles, labels = {}, {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    figure.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(5, len(handles)),
                  fontsize="small", bbox_to_anchor=(0.5, -0.02))
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    return figure
