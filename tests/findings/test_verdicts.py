"""The verdict rules on synthetic samples with known answers: a clear effect holds, its reverse
is contradicted, noise is inconclusive, Holm's correction and the margin change verdicts."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from repro.findings.statistics import PairedTest, Trend, equivalence, page_trend, paired_difference
from repro.findings.verdicts import (EQUIVALENCE_MARGIN, Verdict, all_of, equivalence_verdict, family,
                                     inconsistency_verdict, rank_verdict, sign_verdict, significant, trend_verdict)

SEEDS = 5


def sample(effect: float, noise: float, seed: int, n: int = SEEDS) -> tuple[np.ndarray, np.ndarray]:
    """Paired scores whose true difference a - b is `effect`, seed-to-seed noise `noise`."""
    rng = np.random.default_rng(seed)
    b = rng.normal(0.9, 0.01, n)
    return b + effect + rng.normal(0.0, noise, n), b


def comparisons(effects: dict[str, float], noise: float = 0.002, group: str = "sst2"):
    return family([(name, group, paired_difference(*sample(effect, noise, i))) for i, (name, effect) in enumerate(effects.items())])


def test_a_clear_effect_in_every_pair_holds():
    assert rank_verdict(comparisons({"a-b": 0.03, "a-c": 0.05, "a-d": 0.02})) == Verdict.HOLDS


def test_one_pair_clearly_against_the_claim_contradicts_it():
    assert rank_verdict(comparisons({"a-b": 0.03, "a-c": -0.03, "a-d": 0.02})) == Verdict.CONTRADICTED


def test_noise_is_inconclusive():
    assert rank_verdict(comparisons({"a-b": 0.0, "a-c": 0.0}, noise=0.02)) == Verdict.INCONCLUSIVE


def test_top_two_allows_one_better_method_and_refuses_two():
    one_better = comparisons({"a-b": -0.03, "a-c": 0.04, "a-d": 0.03})
    assert rank_verdict(one_better, k=1) == Verdict.CONTRADICTED
    assert rank_verdict(one_better, k=2) == Verdict.HOLDS
    assert rank_verdict(comparisons({"a-b": -0.03, "a-c": -0.04, "a-d": 0.03}), k=2) == Verdict.CONTRADICTED


def test_the_rule_counts_within_each_group_and_every_group_must_hold():
    holds = comparisons({"a-b": 0.03}, group="sst2") + comparisons({"a-b": 0.03}, group="trec6")
    assert rank_verdict(holds) == Verdict.HOLDS
    mixed = comparisons({"a-b": 0.03}, group="sst2") + comparisons({"a-b": 0.0}, noise=0.02, group="trec6")
    assert rank_verdict(mixed) == Verdict.INCONCLUSIVE


def test_holm_turns_a_lone_raw_significance_inconclusive():
    tests = [("a-b", "sst2", PairedTest(0.01, 0.001, 0.02, 5, 3.0, 0.03))] + [
        (f"a-{x}", "sst2", PairedTest(0.01, -0.01, 0.03, 5, 1.0, 0.5)) for x in "cdef"]
    assert significant(tests[0][2].p)  # raw p 0.03, but 5 pairs in the family
    adjusted = family(tests)
    assert adjusted[0].p_adjusted == pytest.approx(0.15)
    assert rank_verdict(adjusted[:1]) == Verdict.INCONCLUSIVE
    assert rank_verdict(family(tests[:1])) == Verdict.HOLDS  # alone, the same pair holds


def test_nan_p_is_never_significant():
    assert not significant(float("nan"))
    assert rank_verdict(family([("a-b", "sst2", PairedTest(0.1, np.nan, np.nan, 1, np.nan, np.nan))])) == Verdict.INCONCLUSIVE


def test_rank_verdict_refuses_no_comparisons_and_k_below_one():
    with pytest.raises(ValueError, match="at least one"):
        rank_verdict([])
    with pytest.raises(ValueError, match="k 0"):
        rank_verdict(comparisons({"a-b": 0.03}), k=0)


def test_equivalence_within_the_margin_holds():
    results = [equivalence(*sample(0.0, 0.001, i), margin=EQUIVALENCE_MARGIN) for i in range(4)]
    assert equivalence_verdict(results) == Verdict.HOLDS


def test_a_difference_beyond_the_margin_contradicts_equivalence():
    results = [equivalence(*sample(0.0, 0.001, i), margin=EQUIVALENCE_MARGIN) for i in range(3)]
    results.append(equivalence(*sample(0.03, 0.001, 9), margin=EQUIVALENCE_MARGIN))
    assert equivalence_verdict(results) == Verdict.CONTRADICTED


def test_equivalence_of_noisy_pairs_is_inconclusive():
    results = [equivalence(*sample(0.0, 0.03, i), margin=EQUIVALENCE_MARGIN) for i in range(3)]
    assert equivalence_verdict(results) == Verdict.INCONCLUSIVE


def test_the_margin_decides_equivalence_of_the_same_data():
    a, b = sample(0.02, 0.001, 3)
    assert equivalence_verdict([equivalence(a, b, margin=0.05)]) == Verdict.HOLDS
    assert equivalence_verdict([equivalence(a, b, margin=0.01)]) == Verdict.CONTRADICTED


def test_trend_verdict_follows_the_claimed_order():
    blocks = np.array([[0.80, 0.85, 0.90]] * 8) + np.random.default_rng(0).normal(0, 0.005, (8, 3))
    assert trend_verdict(page_trend(blocks)) == Verdict.HOLDS
    assert trend_verdict(page_trend(blocks[:, ::-1])) == Verdict.CONTRADICTED
    noise = np.random.default_rng(1).normal(0.9, 0.01, (8, 3))
    assert trend_verdict(page_trend(noise)) == Verdict.INCONCLUSIVE
    assert trend_verdict(Trend(np.nan, np.nan, np.nan, 1)) == Verdict.INCONCLUSIVE


def test_sign_verdict():
    assert sign_verdict(0.5, 0.01) == Verdict.HOLDS
    assert sign_verdict(-0.5, 0.01) == Verdict.CONTRADICTED
    assert sign_verdict(0.5, 0.2) == Verdict.INCONCLUSIVE
    assert sign_verdict(0.5, float("nan")) == Verdict.INCONCLUSIVE


def test_inconsistency_verdict():
    consistent = comparisons({"x": 0.03, "y": 0.02})
    pooled = paired_difference(*sample(0.025, 0.002, 7))
    assert inconsistency_verdict(pooled, consistent) == Verdict.CONTRADICTED
    opposed = comparisons({"x": 0.03, "y": -0.03})
    assert inconsistency_verdict(pooled, opposed) == Verdict.HOLDS
    assert inconsistency_verdict(paired_difference(*sample(0.0, 0.03, 8)), consistent) == Verdict.HOLDS


def test_all_of_combines_parts():
    assert all_of([Verdict.HOLDS, Verdict.HOLDS]) == Verdict.HOLDS
    assert all_of([Verdict.HOLDS, Verdict.INCONCLUSIVE]) == Verdict.INCONCLUSIVE
    assert all_of([Verdict.HOLDS, Verdict.CONTRADICTED, Verdict.INCONCLUSIVE]) == Verdict.CONTRADICTED
    assert all_of([Verdict.CONTRADICTED, Verdict.PENDING]) == Verdict.PENDING
    assert all_of([]) == Verdict.INCONCLUSIVE


def test_on_pure_noise_holms_family_errs_at_most_alpha_of_the_time():
    """400 claims of 'a beats each of 8 others on 4 tasks', every true difference zero: a verdict
    other than inconclusive is an error, and Holm keeps the family's error rate at or below 5%.
    (The 12,800 paired t-tests run as one vectorised scipy call.)"""
    rng = np.random.default_rng(42)
    claims, pairs = 400, 32
    a, b = rng.normal(0, 0.01, (2, claims * pairs, SEEDS))
    result = stats.ttest_rel(a, b, axis=1)
    means = (a - b).mean(axis=1)
    errors = 0
    for claim in range(claims):
        rows = range(claim * pairs, (claim + 1) * pairs)
        tests = [(f"pair {i}", str(i % 4), PairedTest(means[i], np.nan, np.nan, SEEDS, result.statistic[i], result.pvalue[i]))
                 for i in rows]
        errors += rank_verdict(family(tests)) != Verdict.INCONCLUSIVE
    assert errors / claims <= 0.05 + 3 * (0.05 * 0.95 / claims) ** 0.5
