"""Fig. 5: magnitudes of change of the tuned entries, binned; and the notebook on the smoke profile."""
from __future__ import annotations

import math

import pytest
import torch

from repro.generality.change_magnitude import (ZERO, bin_labels, change_histogram, change_summary, changes_of, log_edges,
                                    size_statement)
from repro.report.change_figures import plot_change_histograms
from repro.training.tuned_weights import TunedWeights

from notebook_runner import run_smoke

INITIAL = {"w": torch.zeros(2, 4), "b": torch.ones(3)}
# changes: w row 0 = 0, 3e-3, 5e-10, 2.0 ; row 1 = 0.5, 0, 0, 7e-5 ; b = 0, 0.25, 0
TUNED = TunedWeights({"w": torch.tensor([[0.0, 3e-3, -5e-10, 2.0], [-0.5, 0.0, 0.0, 7e-5]]),
                      "b": torch.tensor([1.0, 1.25, 1.0])}, {})
MASK = {"w": torch.tensor([[True, True, True, True], [True, False, False, False]]),  # 2 masked, unmoved
        "b": torch.tensor([True, True, False])}                                    # 1 masked, unmoved


def test_masked_entries_that_did_not_move_are_counted():
    changes = changes_of(TUNED, INITIAL, MASK)
    assert changes.tolist() == pytest.approx([0.0, 3e-3, 5e-10, 2.0, 0.5, 0.0, 0.25])
    moved = changes_of(TUNED, INITIAL, None)  # no mask (LoRA): only entries that moved
    assert sorted(moved.tolist()) == pytest.approx(sorted([3e-3, 5e-10, 2.0, 0.5, 7e-5, 0.25]))


def test_histogram_fractions_zero_bin_and_overflow():
    histogram = change_histogram({("random", 1e-3): changes_of(TUNED, INITIAL, MASK)})
    row = histogram.loc[("random", 1e-3)]
    expected = dict.fromkeys(bin_labels(), 0.0) | {ZERO: 2 / 7, "<1e-09": 1 / 7, "0.001–0.01": 1 / 7,
                                                   "0.1–1": 2 / 7, "≥1": 1 / 7}
    assert row.to_dict() == pytest.approx(expected)
    assert math.isclose(row.sum(), 1.0)


def test_histogram_on_finer_edges_and_bin_boundaries():
    edges = log_edges(-2, 0, 2)  # 0.01, 0.0316, 0.1, 0.316, 1
    values = torch.tensor([0.01, 0.05, 0.1, 0.2, 1.0, 0.001], dtype=torch.float64)  # a bin holds a <= x < b
    row = change_histogram({("full", 1.0): values}, edges=edges).iloc[0]
    assert list(row.index) == ["0", "<0.01", "0.01–0.032", "0.032–0.1", "0.1–0.32", "0.32–1", "≥1"]
    assert row.tolist() == pytest.approx([0, 1 / 6, 1 / 6, 1 / 6, 2 / 6, 0, 1 / 6])


def test_histogram_rejects_bad_edges_and_gives_nan_for_no_entries():
    with pytest.raises(ValueError):
        change_histogram({("random", 0.1): torch.ones(2)}, edges=(1.0, 0.1))
    assert change_histogram({("lora", 0.1): torch.zeros(0)}).isna().all(axis=None)


def test_summary_and_statement():
    changes = changes_of(TUNED, INITIAL, MASK)
    table = change_summary({("random", 1e-3): changes, ("random", 1e-1): changes / 10, ("full", 1.0): changes / 100})
    row = table.loc[("random", 1e-3)]
    assert row["tuned entries"] == 7 and row["share unchanged"] == pytest.approx(2 / 7)
    assert row["median |change|"] == pytest.approx(3e-3) and row["median |change| of moved"] == pytest.approx(0.25)
    assert row["90th pct |change|"] == pytest.approx(torch.quantile(changes.double(), 0.9).item())
    statement = size_statement({0: table})
    assert "**random**" in statement and "**random against full**" in statement and "n = 1" in statement


def test_figure_has_a_labelled_panel_per_variant_and_a_line_per_size():
    changes = changes_of(TUNED, INITIAL, MASK)
    histogram = change_histogram({("random", 1e-3): changes, ("random", 1e-1): changes / 10, ("full", 1.0): changes})
    figure = plot_change_histograms(histogram, title="Fig. 5")
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["random", "full"]
    assert [len(ax.get_lines()) for ax in panels] == [2, 1]
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in panels)
    assert figure._suptitle.get_text() == "Fig. 5"


def test_change_magnitude_notebook_smoke(tmp_path, study_data):
    outputs = run_smoke("08_change_magnitude.ipynb", tmp_path, study_data, seeds="0")
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1
    text = "".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "median |change|" in text and "profile **smoke**" in text
