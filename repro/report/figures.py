"""Figures of the book's section 3 pages (Figs. 2/4 and 3), the style every figure of the book
shares, and the numbering and captions that tie each figure to its counterpart in the paper.

Readability rule (tests/report/test_figures.py): a figure is `WIDTH_IN` wide at `DPI` and no
text in it is smaller than `FONT_PT`, so that on a phone, where the image shrinks to a
`PHONE_COLUMN_PX` column, every text still spans at least `MIN_TEXT_PX` pixels
(`displayed_text_px`). Legends sit inside the figure, so the PNG the notebook saves (bbox
"tight", `PAD_IN` around) is (WIDTH_IN + 2 PAD_IN) x DPI wide at most: 930 px, and 11 pt text
there is 9.4 px high on a phone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter
from scipy import stats

from repro.data import get_task_spec

WIDTH_IN, DPI, FONT_PT = 6.0, 150, 11
PAD_IN = 0.1  # matplotlib's savefig.pad_inches, which the inline backend's bbox "tight" adds around
PHONE_COLUMN_PX, MIN_TEXT_PX = 380, 9  # a 400 px phone screen less the page's margins

# One marker and colour per variant, the same in every figure; red is kept for the edge marks.
STYLES = {"random": ("o", "tab:blue"), "bitfit": ("s", "tab:orange"), "largest_downstream_sqgrad": ("P", "tab:green"),
          "largest_pretrain_sqgrad": ("X", "tab:purple"), "combined": ("*", "tab:brown"), "lora": ("v", "tab:pink"),
          "diff_pruning": ("h", "tab:olive"), "diff_pruning_no_retrain": ("d", "tab:cyan"), "full": ("D", "dimgrey")}
METRIC_LABELS = {"accuracy": "accuracy", "entity_f1": "F1 (entity)"}


def metric_label(task: str) -> str:
    """How a task's test score is named on an axis and in headers: "accuracy" or "F1 (entity)" (CoNLL)."""
    return METRIC_LABELS[get_task_spec(task).metric]


def displayed_text_px(size_pt: float, png_width_px: float, dpi: float = DPI) -> float:
    """Height in screen pixels of `size_pt` text of an image `png_width_px` wide saved at `dpi`,
    shown in a phone's column (shrunk to `PHONE_COLUMN_PX` when wider)."""
    return size_pt / 72 * dpi * min(1.0, PHONE_COLUMN_PX / png_width_px)


def book_figure(rows: int = 1, columns: int = 1, height_in: float = 4.2, **kwargs):
    """`plt.subplots` at the book's width and resolution, with constrained layout (room for a
    legend below the axes: `legend_below`). Returns (figure, axes)."""
    return plt.subplots(rows, columns, figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained", **kwargs)


def legend_below(figure, columns: int = 2, first=()) -> None:
    """One legend for all the figure's axes, below them, each label once (the first handle);
    the labels of `first` lead, in that order."""
    handles = {}
    for ax in figure.axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if not label.startswith("_"):
                handles.setdefault(label, handle)
    leading = list(first)
    order = sorted(handles, key=lambda label: leading.index(label) if label in leading else len(leading))
    if handles:
        figure.legend([handles[label] for label in order], order, loc="outside lower center",
                      ncol=min(columns, len(handles)), frameon=False)


def readable(figure):
    """Raise every text of `figure` (tick labels included) to at least `FONT_PT`. Returns it."""
    for ax in figure.axes:
        ax.tick_params(labelsize=FONT_PT)
    for text in figure.findobj(Text):
        if text.get_fontsize() < FONT_PT:
            text.set_fontsize(FONT_PT)
    return figure


def percent_axis(axis) -> None:
    """Ticks of a fraction axis as percentages: 0.0001 -> "0.01%", 1 -> "100%"."""
    axis.set_major_formatter(FuncFormatter(lambda value, _: percent(value)))


def percent(fraction: float) -> str:
    """A fraction as a percentage with up to 3 significant digits, never in e-notation:
    8.13e-4 -> "0.0813%", 1e-4 -> "0.01%", 10 -> "1000%"."""
    return f"{np.format_float_positional(fraction * 100, precision=3, fractional=False, trim='-')}%"


def ci95(std: float, n: int) -> float:
    """Half-width of the 95% t-interval of a mean of `n` values with sample std `std`; NaN for n < 2."""
    if n < 2 or not np.isfinite(std):
        return float("nan")
    return float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))


def spread_sentence(n_seeds) -> str:
    """What the error bars of a figure of means over seeds are, from the seeds behind each point."""
    counts = [int(n) for n in n_seeds if n == n and n > 0]
    if not counts or max(counts) < 2:
        return "One seed per point: no error bars (a single run has no spread to show)."
    if min(counts) >= 2:
        return "Error bars: 95% t-interval of the mean over the seeds."
    return "Error bars: 95% t-interval of the mean over the seeds, where a point has two or more; none on one-seed points."


def plot_score_vs_subset_size(summary: pd.DataFrame, *, metric: str, title: str | None = None):
    """Our Fig. 3: test score (mean, 95% CI over seeds) against the realised subset size (log x,
    in % of the encoder), one marker and colour per variant; points of a size are dodged
    sideways by a few hundredths of a decade so none hides another. Full fine-tuning is a
    dashed line with its CI band. A learning rate chosen at the edge of its grid gets a red ring
    around its point (the paper's red triangles: the score is then a bound). Returns the figure."""
    figure, ax = book_figure(height_in=5.2)
    done = summary.dropna(subset=["test_mean"])
    variants = [v for v in done["selector"].unique() if v != "full"]
    edge_label = "learning rate at its grid's edge"
    for position, (variant, rows) in enumerate((v, done[done["selector"] == v].sort_values("fraction")) for v in variants):
        marker, colour = STYLES.get(variant, ("^", None))
        x = rows["fraction"].to_numpy() * 10 ** (0.03 * (position - (len(variants) - 1) / 2))
        errors = [ci95(s, n) for s, n in zip(rows["test_std"], rows["n_seeds"])]
        ax.errorbar(x, rows["test_mean"], yerr=np.nan_to_num(errors), marker=marker, color=colour, markersize=7,
                    capsize=3, linestyle="-" if len(rows) > 1 else "none", label=variant, zorder=3)
        edge = rows["at_edge"].to_numpy(dtype=bool)
        if edge.any():
            ax.scatter(x[edge], rows["test_mean"][edge], s=260, facecolors="none", edgecolors="red", linewidths=1.5,
                       zorder=2, label=edge_label)
    for _, row in done[done["selector"] == "full"].iterrows():
        half = ci95(row["test_std"], row["n_seeds"])
        ax.axhline(row["test_mean"], color=STYLES["full"][1], linestyle="--", label="full (all parameters)", zorder=1)
        if np.isfinite(half):
            ax.axhspan(row["test_mean"] - half, row["test_mean"] + half, color=STYLES["full"][1], alpha=0.15, zorder=0)
    ax.set_xscale("log")
    percent_axis(ax.xaxis)
    ax.set_xlabel("subset size (% of the encoder's parameters, log scale)")
    ax.set_ylabel(f"test {metric}")
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    legend_below(figure, first=[*variants, "full (all parameters)"])
    return readable(figure)


def plot_selected_learning_rates(frame: pd.DataFrame, summary: pd.DataFrame, variants: list[str] | None = None):
    """Our Fig. 2 (the paper's Figs. 2 and 4): per variant, the learning rates tried (grey; x =
    diverged or failed) and the one chosen on validation (black) at each subset size; a choice
    at the edge of its grid is a red triangle, filled at the cap (0.1). Log axes, two panels a
    row. Returns the figure."""
    from repro.runs.grid_extension import at_cap

    variants = variants or sorted(summary["selector"].unique())
    columns = min(2, len(variants))
    rows_needed = -(-len(variants) // columns)
    figure, axes = book_figure(rows_needed, columns, height_in=2.9 * rows_needed + 1.2, squeeze=False, sharey=True)
    capped = at_cap(summary)
    fractions = frame.groupby(["selector", frame["subset_size"].fillna(-1.0)])["sel_fraction"].max()
    for ax, variant in zip(axes.flat, variants):
        tried = frame[frame["selector"] == variant]
        x = np.asarray([fractions.get((variant, -1.0 if pd.isna(s) else s), np.nan) for s in tried["subset_size"]])
        ok = (tried["status"] == "ok").to_numpy()
        ax.scatter(x[ok], tried["learning_rate"][ok], color="lightgrey", s=24, label="tried")
        if (~ok).any():
            ax.scatter(x[~ok], tried["learning_rate"][~ok], color="grey", marker="x", s=28, label="tried: diverged/failed")
        chosen = summary[(summary["selector"] == variant) & summary["learning_rate"].notna()]
        inside = chosen[~chosen["at_edge"]]
        ax.scatter(inside["fraction"], inside["learning_rate"], color="black", s=36, label="chosen", zorder=4)
        edge = chosen[chosen["at_edge"] & ~capped[chosen.index]]
        ax.scatter(edge["fraction"], edge["learning_rate"], marker="^", facecolors="none", edgecolors="red", s=80,
                   label="chosen at the grid's edge", zorder=5)
        cap = chosen[capped[chosen.index]]
        ax.scatter(cap["fraction"], cap["learning_rate"], marker="^", color="red", s=80,
                   label="chosen at the cap (0.1)", zorder=5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        percent_axis(ax.xaxis)
        ax.set_title(variant)
        ax.grid(True, which="major", alpha=0.3)
    for position, ax in enumerate(axes.flat):
        if position < len(variants) <= position + columns:  # the lowest panel of its column
            ax.set_xlabel("subset size (%, log)")
    for ax in axes[:, 0]:
        ax.set_ylabel("learning rate (log)")
    for ax in list(axes.flat)[len(variants):]:
        ax.set_visible(False)
    legend_below(figure)
    return readable(figure)


@dataclass(frozen=True)
class FigureRef:
    """A figure of the book: our number, its counterpart in the paper (None: it has none) and
    what it shows."""

    number: str
    paper: str | None
    shows: str


FIGURES = {
    "learning_rates": FigureRef("2", "Figs. 2 and 4", "The learning rate chosen on validation against the subset size."),
    "subset_size": FigureRef("3", "Fig. 3", "Test score against the size of the tuned subset."),
    "change_magnitude": FigureRef("5", "Fig. 5", "How far fine-tuning moves the entries it tunes, per subset size."),
    "lora_rank": FigureRef("6", "Fig. 6", "Test score against LoRA's rank."),
    "budget_groups": FigureRef("S1", None, "Where each mask puts its budget, by kind of parameter."),
    "budget_layers": FigureRef("S2", None, "Each mask's share per layer."),
    "mask_overlap": FigureRef("S3", None, "How much the masks overlap (Jaccard)."),
    "regularization": FigureRef("S4", "Table 11, drawn as a figure", "Penalised full fine-tuning against the coefficient."),
}


def figure_reference(key: str) -> str:
    """"our Fig. 3 (the paper's Fig. 3)": how the text refers to a figure of `FIGURES`."""
    if key not in FIGURES:
        raise ValueError(f"unknown figure {key!r}; figures: {sorted(FIGURES)}")
    ref = FIGURES[key]
    return f"our Fig. {ref.number} " + (f"(the paper's {ref.paper})" if ref.paper else "(no counterpart in the paper)")


def figure_caption(key: str, *, model: str, tasks, profile: str, seeds, n_seeds=(), detail: str = "") -> str:
    """Markdown caption of figure `key`: its number and the paper's, what it shows, `detail`,
    the model, tasks, profile and seeds it ran with, and, when `n_seeds` (the seeds behind each
    point) is given, what its error bars are (`spread_sentence`)."""
    reference = figure_reference(key)
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    seeds = [int(s) for s in seeds]
    parts = [f"**{reference[0].upper()}{reference[1:]}.** {FIGURES[key].shows}", detail,
             f"{model} on {', '.join(tasks)}, profile {profile}, seed{'s' if len(seeds) != 1 else ''} "
             f"{', '.join(map(str, seeds))}.", spread_sentence(n_seeds) if len(n_seeds) else ""]
    return " ".join(part for part in parts if part)
