"""Figures of the generality pages (section 4 and its appendix): labelled axes and the book's
style (`repro.report.figures`); captions come from `figure_caption("regularization" | "lora_rank", ...)`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from repro.report.figures import book_figure, ci95, legend_below, readable

from repro.variants.registry import variant_fields

PANELS = (("primary_test", "primary test score"), ("gap", "gap (test - train)"), ("mlm", "MLM precision@1"))
KIND_COLOURS = {"l1": "tab:blue", "l2": "tab:orange"}


def _penalised(index: pd.Index) -> list[tuple[str, str, float]]:
    """(variant, kind, coefficient) of the penalised variants in `index`, by coefficient."""
    found = []
    for variant in index:
        fields = variant_fields(variant)
        if fields.get("regularization"):
            found.append((variant, fields["regularization"], fields["regularization_strength"]))
    return sorted(found, key=lambda item: (item[1], item[2]))


def plot_regularization(table: pd.DataFrame, paper: pd.DataFrame | None = None):
    """Our Fig. S4, Table 11 as a figure: per measure (primary score, gap, MLM precision@1) a
    panel, stacked, against the penalty coefficient (log x), a line per (primary task, L1/L2),
    ours solid and the paper's dashed; the unpenalised variant (full fine-tuning, ours) as a
    grey horizontal line. `table` is indexed by
    (task, variant) with `<measure> mean` columns; `paper` likewise with `<measure> paper mean`
    (paper column names as `repro.report.paper_generality.table11`, primary renamed `primary_test`)."""
    figure, axes = book_figure(len(PANELS), 1, height_in=2.5 * len(PANELS) + 1.6, sharex=True)
    markers = dict(zip(table.index.get_level_values("task").unique(), "osD^v"))
    for ax, (measure, label) in zip(axes, PANELS):
        for task, rows in table.groupby(level="task", sort=False):
            rows = rows.droplevel("task")
            unpenalised = {variant_fields(v)["selector"] for v, _, _ in _penalised(rows.index)} & set(rows.index)
            for variant in sorted(unpenalised) if f"{measure} mean" in rows else ():
                ax.axhline(rows.loc[variant, f"{measure} mean"], color="grey", linestyle=":", linewidth=1)
            for kind in sorted({k for _, k, _ in _penalised(rows.index)}):
                points = [(v, c) for v, k, c in _penalised(rows.index) if k == kind]
                xs = [c for _, c in points]
                ax.plot(xs, [rows.loc[v, f"{measure} mean"] for v, _ in points], marker=markers[task],
                        color=KIND_COLOURS.get(kind), label=f"{task} {kind.upper()} (ours)")
                paper_column = f"{measure} paper mean"
                if paper is not None and paper_column in paper:
                    values = [paper[paper_column].get((task, v), np.nan) for v, _ in points]
                    if not np.all(np.isnan(values)):
                        ax.plot(xs, values, marker=markers[task], color=KIND_COLOURS.get(kind), linestyle="--",
                                alpha=0.6, label=f"{task} {kind.upper()} (paper)")
        ax.set_xscale("log")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("penalty coefficient (log scale)")
    legend_below(figure)
    return readable(figure)


def plot_lora_rank(table: pd.DataFrame, paper: pd.DataFrame | None = None):
    """Our Fig. 6 (the paper's Fig. 6): test score against LoRA's rank (log x), a line per task,
    ours solid (95% CI over seeds, none for one seed) and the paper's dashed. `table` as
    `repro.report.generality_tables.lora_rank_table`; `paper` as
    `repro.report.paper_generality.table9` (indexed by the same variant names)."""
    figure, ax = book_figure(height_in=4.8)
    tasks = [c.removesuffix(" mean") for c in table.columns if c.endswith(" mean")]
    for task, colour in zip(tasks, plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        errors = [ci95(s, n) for s, n in zip(table[f"{task} std"], table[f"{task} n"])]
        ax.errorbar(table["rank"], table[f"{task} mean"], yerr=np.nan_to_num(errors), marker="o", capsize=3,
                    color=colour, label=f"{task} (ours)")
        if paper is not None and f"{task} paper mean" in paper:
            ax.plot(paper["rank"], paper[f"{task} paper mean"], marker="s", linestyle="--", alpha=0.6, color=colour,
                    label=f"{task} (paper)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("LoRA rank (log scale)")
    ax.set_ylabel("test accuracy; CoNLL: F1 (entity)")
    ax.grid(True, alpha=0.3)
    legend_below(figure)
    return readable(figure)
