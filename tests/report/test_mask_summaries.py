"""Notebook 01's mask summaries: computed from the masks and stored when the page trains, read
without any mask when it does not, pending when stored nowhere; figures drawn from them."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import pandas as pd
import pytest
import torch

from repro.report import mask_summaries
from repro.report.mask_figures import ALL_PARAMETERS, budget_shares, jaccard_matrix
from repro.report.mask_summaries import (BUDGET, OVERLAP, load_summaries, mask_summary, masked_runs, pending_note,
                                         plot_groups, plot_layers)
from repro.runs.config import RunConfig

matplotlib.use("Agg")
SHAPES = {"embeddings.word_embeddings.weight": (6, 2), "encoder.layer.0.attention.self.query.weight": (2, 2),
          "encoder.layer.0.attention.self.query.bias": (2,), "encoder.layer.1.output.dense.weight": (2, 2)}


def mask(*selected: str) -> dict[str, torch.Tensor]:
    """A mask that selects every entry of the `selected` parameters."""
    return {name: torch.full(shape, name in selected) for name, shape in SHAPES.items()}


MASKS = {"random": mask("embeddings.word_embeddings.weight"),
         "bitfit": mask("encoder.layer.0.attention.self.query.bias"),
         "combined": mask("encoder.layer.0.attention.self.query.weight", "encoder.layer.1.output.dense.weight")}


def chosen() -> dict[str, RunConfig]:
    base = dict(task="sst2", model="tiny-random", learning_rate=1e-3, seed=0)
    return {"random": RunConfig(selector="random", subset_size=1e-3, **base),
            "bitfit": RunConfig(selector="bitfit", **base),
            "combined": RunConfig(selector="combined", subset_size=1e-3, **base),
            "lora": RunConfig(selector="lora", **base), "full": RunConfig(selector="full", **base)}


def workspace(results, reference=None, train=True):
    return SimpleNamespace(results_dir=results, reference_dir=reference, train=train)


@pytest.fixture
def rebuilt(monkeypatch) -> list[str]:
    """Masks rebuilt from `MASKS` by variant; the list records each rebuild."""
    calls = []

    def rebuild(config, _workspace):
        calls.append(config.variant)
        return MASKS[config.variant]
    monkeypatch.setattr(mask_summaries, "rebuild_selection_mask", rebuild)
    return calls


def test_only_proper_subsets_have_a_summary():
    assert list(masked_runs(chosen())) == ["random", "bitfit", "combined"]


def test_a_summary_holds_the_shares_of_the_mask_and_of_all_entries():
    summary = mask_summary(MASKS["combined"])
    groups, layers = dict(summary["groups"]), [name for name, _ in summary["layers"]]
    assert groups["attention weights"] == pytest.approx(0.5) and groups["feed-forward weights"] == pytest.approx(0.5)
    assert layers == ["embeddings", "0", "1"] and summary["selected"] == 8
    assert dict(summary["all_groups"])["embeddings"] == pytest.approx(12 / 22)


def test_training_stores_them_and_reading_needs_no_mask(tmp_path, rebuilt):
    first = load_summaries(chosen(), workspace(tmp_path / "results"))
    assert rebuilt == ["random", "bitfit", "combined"]  # each mask once, the overlap from the same masks
    assert len(list((tmp_path / "results" / "probes" / BUDGET).glob("*.json"))) == 3
    assert len(list((tmp_path / "results" / "probes" / OVERLAP).glob("*.json"))) == 1
    pd.testing.assert_frame_equal(first.groups, budget_shares(MASKS).loc[first.groups.index], check_names=False)
    pd.testing.assert_frame_equal(first.overlap, jaccard_matrix(MASKS))
    rebuilt.clear()
    read = load_summaries(chosen(), workspace(tmp_path / "empty", reference=tmp_path / "results", train=False))
    assert rebuilt == [] and not (tmp_path / "empty" / "probes").exists()  # read from the reference, nothing rebuilt
    pd.testing.assert_frame_equal(read.groups, first.groups)
    pd.testing.assert_frame_equal(read.layers, first.layers)
    pd.testing.assert_frame_equal(read.overlap, first.overlap)
    assert read.pending == () and list(read.layers.index) == ["random", "bitfit", "combined", ALL_PARAMETERS]


def test_summaries_in_neither_store_are_pending(tmp_path, rebuilt):
    load_summaries(chosen(), workspace(tmp_path / "results"))
    next((tmp_path / "results" / "probes" / BUDGET).glob("*.json")).unlink()
    rebuilt.clear()
    partial = load_summaries(chosen(), workspace(tmp_path / "results", train=False))
    assert len(partial.pending) == 1 and partial.overlap is None and rebuilt == []
    assert len(partial.groups) == 3  # two variants and the row of all parameters
    note = pending_note(chosen(), partial, "sst2", 0)
    assert note.startswith(f"Pending: the mask summaries of {partial.pending[0]} (sst2, seed 0)")
    assert load_summaries(chosen(), workspace(tmp_path / "none", train=False)) is None
    assert pending_note(chosen(), None, "sst2", 0).startswith("Pending: the mask summaries of random, bitfit, combined")
    assert pending_note({}, None, "sst2", 0) == "No cell of sst2 has all its runs yet: no mask to show."


def test_figures_from_the_summaries(tmp_path, rebuilt):
    summaries = load_summaries(chosen(), workspace(tmp_path / "results"))
    groups = plot_groups(summaries.groups)
    assert [t.get_text() for t in groups.axes[0].get_yticklabels()] == [ALL_PARAMETERS, "random", "bitfit", "combined"]
    layers = plot_layers(summaries.layers)
    assert [line.get_label() for line in layers.axes[0].get_lines()] == [ALL_PARAMETERS, "random", "bitfit", "combined"]
