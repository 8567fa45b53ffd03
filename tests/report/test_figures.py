"""The book's figures: readable on a phone, numbered after the paper, one legend entry per thing,
markers that do not hide each other, and error bars that are 95% t-intervals over seeds."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.text import Text
from PIL import Image

from repro.generality.change_magnitude import change_histogram
from repro.models import DecoderSpec, build_task_model, encoder_parameters
from repro.report.change_figures import plot_change_histograms
from repro.report.figures import (DPI, FONT_PT, MIN_TEXT_PX, PAD_IN, STYLES, WIDTH_IN, ci95, displayed_text_px,
                                  figure_caption, figure_reference, plot_score_vs_subset_size,
                                  plot_selected_learning_rates, spread_sentence)
from repro.report.generality_figures import plot_lora_rank, plot_regularization
from repro.report.mask_figures import jaccard_matrix, plot_jaccard
from repro.report.mask_summaries import mask_summary, plot_groups, plot_layers, share_frames
from repro.report.paper_generality import table9
from repro.selection.selectors import bitfit_k, select_bitfit, select_random


def fig3_summary(n_seeds: int = 3) -> pd.DataFrame:
    """Random at three sizes and at BitFit's, BitFit (at the edge of its grid), full fine-tuning."""
    rows = [("random", 1e-4, 1e-4, 0.70, False), ("random", 1e-3, 1e-3, 0.80, True), ("random", np.nan, 8e-4, 0.79, False),
            ("bitfit", np.nan, 8e-4, 0.79, True), ("full", np.nan, 1.0, 0.90, False)]
    return pd.DataFrame([{"task": "sst2", "selector": s, "subset_size": size, "fraction": f, "test_mean": m,
                          "test_std": 0.02 if n_seeds > 1 else np.nan, "n_seeds": n_seeds, "at_edge": edge,
                          "learning_rate": 1e-2, "grid": [1e-3, 1e-2], "val_mean": m}
                         for s, size, f, m, edge in rows])


def rates_frame(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([{"selector": r.selector, "subset_size": r.subset_size, "sel_fraction": r.fraction,
                          "learning_rate": rate, "status": "ok"} for r in summary.itertuples() for rate in r.grid])


@pytest.fixture(scope="module")
def masks():
    params = encoder_parameters(build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0))
    return {"bitfit": select_bitfit(params, bitfit_k(params), 0), "random": select_random(params, 2_000, seed=0)}


def regularization_table() -> pd.DataFrame:
    variants = ["full", "full+l1:0.01", "full+l1:1", "full+l2:0.01", "full+l2:1"]
    index = pd.MultiIndex.from_tuples([("sst2", v) for v in variants], names=["task", "variant"])
    return pd.DataFrame({f"{m} mean": np.linspace(0.5, 0.9, 5) for m in ("primary_test", "gap", "mlm")}, index=index)


def lora_table() -> pd.DataFrame:
    paper = table9()
    table = paper[["rank"]].copy()
    table["sst2 mean"], table["sst2 std"], table["sst2 n"] = np.linspace(0.8, 0.9, len(table)), 0.01, 3
    return table


FIGURES = {
    "subset_size": lambda masks: plot_score_vs_subset_size(fig3_summary(), metric="accuracy", title="minilm-l6 on sst2"),
    "learning_rates": lambda masks: plot_selected_learning_rates(rates_frame(fig3_summary()), fig3_summary(),
                                                                 ["random", "bitfit", "full"]),
    "change_magnitude": lambda masks: plot_change_histograms(change_histogram(
        {("random", 1e-3): torch.logspace(-8, 0, 50), ("full", 1.0): torch.logspace(-6, 0, 50)}), title="sst2"),
    "budget_groups": lambda masks: plot_groups(share_frames({v: mask_summary(m) for v, m in masks.items()})[0]),
    "budget_layers": lambda masks: plot_layers(share_frames({v: mask_summary(m) for v, m in masks.items()})[1]),
    "mask_overlap": lambda masks: plot_jaccard(jaccard_matrix(masks)),
    "regularization": lambda masks: plot_regularization(regularization_table()),
    "lora_rank": lambda masks: plot_lora_rank(lora_table(), table9()),
}


def shown_texts(figure) -> list[Text]:
    return [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_figure_is_readable_on_a_phone(name, masks):
    """The rule: the book's width and resolution, no text under FONT_PT, and, as the notebook's
    inline backend saves it (bbox 'tight'), a PNG no wider than the figure, so that on a 400 px
    phone every text is still MIN_TEXT_PX high."""
    figure = FIGURES[name](masks)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    width = Image.open(buffer).size[0]
    assert tuple(figure.get_size_inches())[0] == WIDTH_IN and figure.dpi == DPI
    assert width <= (WIDTH_IN + 2 * PAD_IN) * DPI + 1  # nothing (a legend, a title) sticks out of the figure
    sizes = [t.get_fontsize() for t in shown_texts(figure)]
    assert sizes and min(sizes) >= FONT_PT
    assert displayed_text_px(min(sizes), width) >= MIN_TEXT_PX
    labels = [label for ax in figure.axes for label in ax.get_legend_handles_labels()[1]]
    legend = [t.get_text() for legend in figure.legends for t in legend.get_texts()]
    assert len(legend) == len(set(legend)) and set(legend) <= set(labels)  # one entry per thing, no stray one


def test_the_rule_rejects_what_the_book_showed_before():
    """A 7 in figure at 100 dpi with 'small' (8.3 pt) legend text: 6 px on a phone."""
    assert displayed_text_px(8.33, (7 + 2 * PAD_IN) * 100, dpi=100) < 6.2
    assert displayed_text_px(FONT_PT, (WIDTH_IN + 2 * PAD_IN) * DPI) >= MIN_TEXT_PX


def test_fig3_full_fine_tuning_once_edges_as_rings_and_ci_error_bars():
    figure = plot_score_vs_subset_size(fig3_summary(3), metric="accuracy")
    ax = figure.axes[0]
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend.count("full (all parameters)") == 1 and "full" not in legend
    assert legend == ["random", "bitfit", "full (all parameters)", "learning rate at its grid's edge"]
    assert ax.get_ylabel() == "test accuracy" and "%" in ax.get_xlabel()
    rings = [c for c in ax.collections if c.get_label() == "learning rate at its grid's edge"]
    assert len(rings) == 2 and all(len(c.get_facecolors()) == 0 for c in rings)  # hollow: the point shows through
    assert all(c.get_sizes()[0] > 7 ** 2 * 2 for c in rings)  # and larger than the marker it circles
    random, bitfit = (c for c in ax.containers)
    bars = random.lines[2][0].get_segments()
    assert bars[0][1][1] - bars[0][0][1] == pytest.approx(2 * ci95(0.02, 3))  # the 95% t-interval
    assert ci95(0.02, 3) == pytest.approx(4.303 * 0.02 / np.sqrt(3), rel=1e-3)
    bitfit_x = bitfit.lines[0].get_xdata()[0]
    random_x = random.lines[0].get_xdata()[1]  # random at BitFit's size: dodged, not on top of it
    assert bitfit_x != pytest.approx(random_x, rel=1e-3) and bitfit_x == pytest.approx(random_x, rel=0.2)
    assert STYLES["bitfit"][0] != STYLES["random"][0]


def test_fig3_one_seed_has_no_error_bars():
    figure = plot_score_vs_subset_size(fig3_summary(1), metric="accuracy")
    for container in figure.axes[0].containers:
        assert all(np.ptp(segment[:, 1]) == 0 for segment in container.lines[2][0].get_segments())
    assert np.isnan(ci95(np.nan, 1)) and np.isnan(ci95(0.1, 1))


@pytest.mark.parametrize("counts, expected", [
    ([1, 1], "One seed per point: no error bars"),
    ([3, 5], "Error bars: 95% t-interval of the mean over the seeds."),
    ([1, 3], "where a point has two or more; none on one-seed points"),
])
def test_spread_sentence(counts, expected):
    assert expected in spread_sentence(counts)


def test_figures_are_numbered_after_the_paper():
    assert figure_reference("subset_size") == "our Fig. 3 (the paper's Fig. 3)"
    assert figure_reference("learning_rates") == "our Fig. 2 (the paper's Figs. 2 and 4)"
    assert figure_reference("mask_overlap") == "our Fig. S3 (no counterpart in the paper)"
    with pytest.raises(ValueError, match="unknown figure 'fig3'; figures: "):
        figure_reference("fig3")
    caption = figure_caption("subset_size", model="minilm-l6", tasks="sst2", profile="cpu", seeds=[0, 1],
                             n_seeds=[2, 2, 1])
    assert caption.startswith("**Our Fig. 3 (the paper's Fig. 3).** Test score against the size of the tuned subset.")
    assert "minilm-l6 on sst2, profile cpu, seeds 0, 1." in caption and "none on one-seed points" in caption
    one = figure_caption("budget_groups", model="m", tasks=["sst2", "trec6"], profile="smoke", seeds=[0])
    assert "m on sst2, trec6, profile smoke, seed 0." in one and "error bars" not in one.lower()
