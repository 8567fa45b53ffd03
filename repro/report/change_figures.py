"""Our Fig. 5: how far fine-tuning moves the entries it tunes, from the histograms of
`repro.generality.change_magnitude` (`histogram_of`, `change_histogram`), and the page's tables.
Labelled axes, the book's figure style (`repro.report.figures`); captions come from
`figure_caption("change_magnitude", ...)`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from repro.report.figures import book_figure, legend_below, percent, readable
from repro.report.tables import book_table, format_rate, format_share


def plot_change_histograms(histogram: pd.DataFrame, title: str | None = None):
    """Our Fig. 5 (the paper's Fig. 5): one panel per variant, stacked, one line per subset size
    (colour by size, the same in every panel, one legend below); x = |theta - theta_0| bins
    (log-spaced, zeros first), y = share of the cell's tuned entries. Returns the figure."""
    selectors = list(dict.fromkeys(histogram.index.get_level_values("selector")))
    sizes = np.log10(np.asarray(histogram.index.get_level_values("subset size"), dtype=float))
    colour = plt.get_cmap("viridis")
    span = (sizes.min(), max(sizes.max() - sizes.min(), 1e-9))
    figure, axes = book_figure(len(selectors), 1, height_in=2.6 * len(selectors) + 1.6, squeeze=False, sharex=True,
                               sharey=True)
    x = np.arange(histogram.shape[1])
    for ax, selector in zip(axes[:, 0], selectors):
        for (_, size), shares in histogram.loc[[selector]].sort_index(level="subset size").iterrows():
            ax.plot(x, shares.to_numpy(), marker="o", markersize=4,
                    color=colour(0.9 * (np.log10(size) - span[0]) / span[1]), label=f"subset size {percent(size)}")
        ax.set_title(selector)
        ax.set_xlabel("|θ − θ₀| of a tuned entry")
        ax.set_ylabel("share of entries")
        ax.grid(True, alpha=0.3)
    axes[-1, 0].set_xticks(x, histogram.columns, rotation=90)
    if title:
        figure.suptitle(title)
    legend_below(figure)
    return readable(figure)


def shares_table(histogram: pd.DataFrame, caption: str | None = None):
    """A histogram (cells x bins) as the book shows it: one row per bin, one column per cell
    ("random 0.1%"), percentages of the cell's tuned entries (`book_table`)."""
    shares = (histogram.T * 100).rename_axis(index="|θ − θ₀|")
    shares.columns = [f"{selector} {format_share(size)}" for selector, size in shares.columns]
    return book_table(shares, caption=caption, decimals=2)


def changes_table(table: pd.DataFrame, caption: str | None = None):
    """A `summary_table` (per cell: learning rate, tuned entries, share unchanged, medians) as the
    book shows it: the subset size as a percentage, rates and magnitudes in one format each."""
    shown = table.reset_index()
    shown["subset size"] = shown["subset size"].map(format_share)
    if "learning rate" in shown:
        shown["learning rate"] = shown["learning rate"].map(format_rate)
    shown["share unchanged"] = shown["share unchanged"].map(lambda x: "" if pd.isna(x) else f"{x:.2%}")
    for column in ("median |change|", "90th pct |change|", "median |change| of moved"):
        shown[column] = shown[column].map(lambda x: "" if pd.isna(x) else f"{x:.2e}")
    return book_table(shown, caption=caption)
