"""The statistics wrappers on data whose answers are known."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from repro.findings.statistics import (binomial_se, equivalence, holm, page_trend, paired_difference,
                                       signed_rank)

def test_paired_difference_is_the_mean_difference_with_a_t_interval():
    a = np.array([0.90, 0.92, 0.91, 0.93, 0.94])
    b = a - np.array([0.01, 0.02, 0.015, 0.012, 0.018])
    result = paired_difference(a, b)
    d = a - b
    low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert result.n == 5 and result.mean == pytest.approx(d.mean())
    assert (result.low, result.high) == pytest.approx((low, high))
    assert result.p < 0.01


def test_paired_difference_of_noise_has_a_large_p_and_an_interval_around_zero():
    rng = np.random.default_rng(0)
    a = rng.normal(0.9, 0.01, 5)
    b = a + rng.normal(0.0, 0.01, 5)
    result = paired_difference(a, b)
    assert result.low < 0 < result.high and result.p > 0.05


def test_paired_difference_of_one_pair_has_no_interval_or_p():
    result = paired_difference([0.9], [0.8])
    assert result.mean == pytest.approx(0.1) and math.isnan(result.low) and math.isnan(result.p)


def test_paired_difference_refuses_samples_of_two_lengths():
    with pytest.raises(ValueError, match="one length"):
        paired_difference([0.9, 0.8], [0.8])


def test_holm_multiplies_the_sorted_p_values_and_keeps_them_monotone():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_holm_leaves_nan_out_of_the_family():
    adjusted = holm([0.01, float("nan"), 0.04])
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.04)


def test_equivalence_within_the_margin():
    a = np.array([0.900, 0.910, 0.905, 0.902, 0.908])
    result = equivalence(a, a - np.array([0.001, -0.001, 0.0005, 0.0, -0.0005]), margin=0.01)
    assert result.p < 0.05 and result.p_beyond > 0.05


def test_equivalence_beyond_the_margin():
    a = np.array([0.900, 0.910, 0.905, 0.902, 0.908])
    result = equivalence(a, a - np.array([0.030, 0.032, 0.028, 0.031, 0.029]), margin=0.01)
    assert result.p > 0.05 and result.p_beyond < 0.05 and result.difference.mean == pytest.approx(0.03)


def test_equivalence_of_noisy_pairs_decides_nothing():
    rng = np.random.default_rng(1)
    a = rng.normal(0.9, 0.01, 4)
    result = equivalence(a, a + rng.normal(0.0, 0.03, 4), margin=0.01)
    assert result.p > 0.05 and result.p_beyond > 0.05


def test_equivalence_refuses_a_margin_that_is_not_positive():
    with pytest.raises(ValueError, match="margin 0"):
        equivalence([0.9, 0.8], [0.9, 0.8], margin=0)


def test_page_trend_finds_the_claimed_order_and_its_reverse():
    rising = np.array([[1.0, 2.0, 3.0]] * 6) + np.random.default_rng(2).normal(0, 0.1, (6, 3))
    trend = page_trend(rising)
    assert trend.p < 0.01 and trend.p_reverse > 0.5 and trend.blocks == 6
    assert page_trend(rising[:, ::-1]).p_reverse < 0.01


def test_page_trend_needs_two_blocks_and_three_treatments():
    assert math.isnan(page_trend([[1.0, 2.0, 3.0]]).p)
    assert math.isnan(page_trend([[1.0, 2.0], [1.0, 2.0]]).p)
    with pytest.raises(ValueError, match="complete 2-d array"):
        page_trend([[1.0, float("nan"), 2.0], [1.0, 2.0, 3.0]])


def test_signed_rank_of_all_positive_differences():
    result = signed_rank([0.5, 0.3, 0.4, 0.2, 0.6, 0.1, 0.7, 0.35])
    assert result.p < 0.01 and result.median > 0 and result.n_nonzero == 8


def test_signed_rank_without_non_zero_differences_has_no_p():
    result = signed_rank([0.0, 0.0, 0.0])
    assert result.n_nonzero == 0 and math.isnan(result.p)


def test_binomial_se_is_the_standard_error_of_a_proportion():
    assert binomial_se(0.5, 100) == pytest.approx(0.05)
    assert binomial_se(0.9, 872) == pytest.approx(math.sqrt(0.9 * 0.1 / 872))


def test_binomial_se_refuses_a_score_outside_zero_one():
    with pytest.raises(ValueError, match="score 1.2"):
        binomial_se(1.2, 100)
