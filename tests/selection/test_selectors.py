"""Selectors return exactly k entries, deterministically, and reject sizes they cannot give."""
from __future__ import annotations

import pytest
import torch

from repro.models import DecoderSpec, build_task_model, encoder_parameters
from repro.selection.selectors import (bitfit_fraction, bitfit_k, count_parameters, mask_size, select_bitfit,
                                       select_full, select_largest_downstream_sqgrad, select_random, subset_k)


@pytest.fixture(scope="module")
def params():
    return encoder_parameters(build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0))


def test_encoder_excludes_head_and_pooler(params):
    assert not any(name.startswith("decoder") or "pooler" in name for name in params)


@pytest.mark.parametrize("k", [1, 2, 17, 1000, "all"])
def test_random_exact_k_and_shapes(params, k):
    k = count_parameters(params) if k == "all" else k
    mask = select_random(params, k, seed=3)
    assert mask_size(mask) == k
    assert all(mask[name].shape == p.shape and mask[name].dtype == torch.bool for name, p in params.items())


def test_random_deterministic_by_seed(params):
    a, b, c = (select_random(params, 500, seed) for seed in (1, 1, 2))
    assert all(torch.equal(a[n], b[n]) for n in params)
    assert any(not torch.equal(a[n], c[n]) for n in params)


def test_random_covers_all_parameters_uniformly(params):
    """Each tensor's share of a large random mask is close to its share of the encoder."""
    total, k = count_parameters(params), count_parameters(params) // 2
    mask = select_random(params, k, seed=0)
    word = next(n for n in params if "word_embeddings" in n)
    share = mask[word].sum().item() / k
    assert abs(share - params[word].numel() / total) < 0.01


def test_bitfit_selects_every_bias_and_nothing_else(params):
    mask = select_bitfit(params, bitfit_k(params), seed=0)
    for name, m in mask.items():
        assert bool(m.all()) if name.endswith("bias") else not bool(m.any()), name
    assert mask_size(mask) == bitfit_k(params)
    assert 0 < bitfit_fraction(params) < 0.1


def test_fixed_size_selectors_reject_other_k(params):
    with pytest.raises(ValueError, match="always selects"):
        select_bitfit(params, bitfit_k(params) + 1, seed=0)
    with pytest.raises(ValueError, match="always selects"):
        select_full(params, 5, seed=0)
    assert mask_size(select_full(params, count_parameters(params), 0)) == count_parameters(params)


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_subset_size_outside_unit_interval(params, fraction):
    with pytest.raises(ValueError, match=r"must be a fraction in \(0, 1\]"):
        subset_k(params, fraction)


def test_subset_k_rounds_and_is_at_least_one(params):
    total = count_parameters(params)
    assert subset_k(params, 1e-12) == 1
    assert subset_k(params, 0.25) == round(0.25 * total)
    assert subset_k(params, 1.0) == total


def test_k_outside_model(params):
    with pytest.raises(ValueError, match="between 1 and"):
        select_random(params, count_parameters(params) + 1, seed=0)


class FakeStats:
    def __init__(self, scores):
        self.scores = scores

    def downstream(self):
        return self.scores


@pytest.mark.parametrize("k", [1, 5, 333, "all"])
def test_downstream_sqgrad_takes_the_k_largest_scores(params, k):
    k = count_parameters(params) if k == "all" else k
    generator = torch.Generator().manual_seed(0)
    scores = {name: torch.rand(p.shape, generator=generator) for name, p in params.items()}
    mask = select_largest_downstream_sqgrad(params, k, 0, FakeStats(scores))
    assert mask_size(mask) == k
    chosen = torch.cat([scores[n][mask[n]] for n in params])
    left = torch.cat([scores[n][~mask[n]] for n in params])
    assert left.numel() == 0 or chosen.min() >= left.max()


def test_downstream_sqgrad_needs_statistics(params):
    with pytest.raises(ValueError, match="needs gradient statistics"):
        select_largest_downstream_sqgrad(params, 3, 0, None)
