"""Budget shares per layer and component, and the Jaccard overlap of masks."""
from __future__ import annotations

import pytest
import torch

from repro.report.mask_budget import budget_table, jaccard, locate
from repro.models import DecoderSpec, build_task_model, encoder_parameters
from repro.selection.selectors import bitfit_k, select_bitfit, select_random


@pytest.mark.parametrize("name,expected", [
    ("embeddings.word_embeddings.weight", ("embeddings", "embeddings", "weight")),
    ("embeddings.LayerNorm.bias", ("embeddings", "layernorm", "bias")),
    ("encoder.layer.3.attention.self.query.weight", ("3", "attention", "weight")),
    ("encoder.layer.3.attention.output.LayerNorm.weight", ("3", "layernorm", "weight")),
    ("encoder.layer.11.intermediate.dense.bias", ("11", "feed-forward", "bias")),
    ("encoder.layer.0.output.dense.weight", ("0", "feed-forward", "weight")),
])
def test_locate(name, expected):
    assert locate(name) == expected


@pytest.fixture(scope="module")
def params():
    return encoder_parameters(build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0))


def test_budget_of_bitfit_is_all_biases(params):
    table = budget_table(select_bitfit(params, bitfit_k(params), 0))
    assert table["share_of_mask"].sum() == pytest.approx(1.0)
    assert table.loc[table["kind"] == "weight", "selected"].sum() == 0
    assert (table.loc[table["kind"] == "bias", "share_selected"] == 1.0).all()
    assert set(table["component"]) == {"embeddings", "attention", "feed-forward", "layernorm"}


def test_random_budget_follows_parameter_counts(params):
    table = budget_table(select_random(params, 20_000, seed=0))
    assert table["selected"].sum() == 20_000
    words = table[(table["component"] == "embeddings") & (table["kind"] == "weight")]
    assert words["share_of_mask"].sum() == pytest.approx(words["total"].sum() / table["total"].sum(), abs=0.02)


def test_jaccard():
    a = {"w": torch.tensor([True, True, False, False])}
    b = {"w": torch.tensor([False, True, True, False])}
    assert jaccard(a, b) == pytest.approx(1 / 3) and jaccard(a, a) == 1.0
    with pytest.raises(ValueError, match="different parameters"):
        jaccard(a, {"v": torch.tensor([True])})
    with pytest.raises(ValueError, match="selects no entry"):
        budget_table({"w": torch.zeros(3, dtype=torch.bool)})
