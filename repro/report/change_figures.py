"""Fig. 5: how far fine-tuning moves the entries it tunes, from the histograms of
`repro.generality.change_magnitude.change_histogram`. Labelled axes; captions live in the notebook."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def plot_change_histograms(histogram: pd.DataFrame, title: str | None = None):
    """Fig. 5: one panel per variant, one line per subset size (colour by size, the same in
    every panel); x = |theta - theta_0| bins (log-spaced, zeros first), y = share of the
    cell's tuned entries. Returns the figure."""
    selectors = list(dict.fromkeys(histogram.index.get_level_values("selector")))
    sizes = np.log10(np.asarray(histogram.index.get_level_values("subset size"), dtype=float))
    colour = plt.get_cmap("viridis")
    span = (sizes.min(), max(sizes.max() - sizes.min(), 1e-9))
    columns = min(3, len(selectors))
    rows_needed = -(-len(selectors) // columns)
    figure, axes = plt.subplots(rows_needed, columns, figsize=(4.6 * columns, 3.6 * rows_needed), squeeze=False,
                                sharey=True)
    x = np.arange(histogram.shape[1])
    for ax, selector in zip(axes.flat, selectors):
        for (_, size), shares in histogram.loc[[selector]].sort_index(level="subset size").iterrows():
            ax.plot(x, shares.to_numpy(), marker="o", markersize=3,
                    color=colour(0.9 * (np.log10(size) - span[0]) / span[1]), label=f"subset size {size:.2g}")
        ax.set_xticks(x, histogram.columns, rotation=60, ha="right", fontsize="x-small")
        ax.set_title(selector, fontsize="medium")
        ax.set_xlabel("|θ − θ₀| of a tuned entry (log-spaced bins)")
        ax.set_ylabel("share of the tuned entries")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small")
    for ax in list(axes.flat)[len(selectors):]:
        ax.set_visible(False)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
