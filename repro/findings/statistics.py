"""Thin wrappers over scipy.stats and statsmodels for the findings: paired differences, Holm's
correction, equivalence (TOST), rank tests and a test set's binomial noise floor.

Every function takes plain sequences of floats and returns numbers; none decides a verdict
(`repro.findings.verdicts` does). A test that cannot be computed (fewer than two pairs, no
non-zero difference) returns NaN p-values, which no rule counts as significant.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_paired

CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairedTest:
    """Mean of the paired differences a - b, its two-sided t confidence interval (`low`,
    `high`), the number of pairs `n`, and the two-sided paired t-test's statistic and p."""

    mean: float
    low: float
    high: float
    n: int
    statistic: float
    p: float


@dataclass(frozen=True)
class Equivalence:
    """TOST of a - b against the margin (-margin, margin): `p` is the larger of the two one-sided
    p-values (below alpha: the difference lies within the margin); `p_beyond`: the two-sided
    p-value that the difference lies beyond the margin on one side (the (1 - alpha) interval
    excludes the whole margin); `difference` the paired difference itself."""

    margin: float
    p: float
    p_beyond: float
    difference: PairedTest


def _pairs(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples must be two 1-d sequences of one length, got shapes {a.shape} and {b.shape}")
    return a, b


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> PairedTest:
    """Paired t-test of a - b (scipy.stats.ttest_rel) with its t confidence interval. NaN
    interval and p for fewer than two pairs; identical non-zero differences give p = 0."""
    a, b = _pairs(a, b)
    if len(a) < 2:
        mean = float((a - b).mean()) if len(a) else float("nan")
        return PairedTest(mean, float("nan"), float("nan"), len(a), float("nan"), float("nan"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nearly identical differences: scipy warns, p is still defined
        result = stats.ttest_rel(a, b)
        interval = result.confidence_interval(confidence)
    return PairedTest(float((a - b).mean()), float(interval.low), float(interval.high), len(a),
                      float(result.statistic), float(result.pvalue))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (statsmodels multipletests, method "holm") of one family; NaN
    entries stay NaN and are not counted in the family's size."""
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    finite = ~np.isnan(p)
    if finite.any():
        adjusted[finite] = multipletests(p[finite], method="holm")[1]
    return adjusted


def equivalence(a: Sequence[float], b: Sequence[float], margin: float) -> Equivalence:
    """TOST of the paired difference a - b within +-`margin` (statsmodels ttost_paired), and the
    test that it lies beyond the margin (scipy one-sample t-tests against +-margin)."""
    if not margin > 0:
        raise ValueError(f"margin {margin!r} must be a positive number")
    a, b = _pairs(a, b)
    difference = paired_difference(a, b)
    if len(a) < 2:
        return Equivalence(margin, float("nan"), float("nan"), difference)
    d = a - b
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # zero variance: statsmodels divides by zero
        p = float(ttost_paired(a, b, -margin, margin)[0])
        above = stats.ttest_1samp(d, margin, alternative="greater").pvalue
        below = stats.ttest_1samp(d, -margin, alternative="less").pvalue
    return Equivalence(margin, p, float(min(1.0, 2 * min(above, below))), difference)


@dataclass(frozen=True)
class Trend:
    """Page's trend test of a claimed order: `p` for the claimed order, `p_reverse` for its
    reverse, `statistic` Page's L for the claimed order, `blocks` the rows used."""

    statistic: float
    p: float
    p_reverse: float
    blocks: int


def page_trend(blocks: Sequence[Sequence[float]]) -> Trend:
    """scipy.stats.page_trend_test on rows of values whose columns are in the claimed increasing
    order (column 0 claimed lowest); ties within a row get average ranks (scipy's exact null
    distribution assumes none, so with ties p is approximate). NaN p for fewer than two blocks
    or three treatments."""
    data = np.asarray(blocks, dtype=float)
    if data.ndim != 2 or np.isnan(data).any():
        raise ValueError(f"Page's test needs a complete 2-d array of blocks x treatments, got shape {data.shape}")
    if data.shape[0] < 2 or data.shape[1] < 3:  # scipy needs at least 3 treatments
        return Trend(float("nan"), float("nan"), float("nan"), data.shape[0])
    m = data.shape[1]
    claimed = stats.page_trend_test(data, predicted_ranks=list(range(1, m + 1)))
    reverse = stats.page_trend_test(data, predicted_ranks=list(range(m, 0, -1)))
    return Trend(float(claimed.statistic), float(claimed.pvalue), float(reverse.pvalue), data.shape[0])


@dataclass(frozen=True)
class SignedRank:
    """Wilcoxon's signed-rank test of differences d (two-sided): the median difference, the
    number of non-zero differences and p (NaN when none is non-zero)."""

    median: float
    n_nonzero: int
    statistic: float
    p: float


def signed_rank(differences: Sequence[float]) -> SignedRank:
    """scipy.stats.wilcoxon on `differences` (zeros dropped, "wilcox"), two-sided."""
    d = np.asarray(differences, dtype=float)
    nonzero = int(np.count_nonzero(d))
    median = float(np.median(d)) if len(d) else float("nan")
    if nonzero == 0:
        return SignedRank(median, 0, float("nan"), float("nan"))
    result = stats.wilcoxon(d, zero_method="wilcox")
    return SignedRank(median, nonzero, float(result.statistic), float(result.pvalue))


def binomial_se(score: float, n: int) -> float:
    """Standard error of a score measured as a proportion on a test set of `n` examples
    (scipy.stats.binom: sqrt(p(1-p)/n)): the noise floor of one test set, whatever the seed.
    For entity F1 (CoNLL) it is an approximation with n the number of test sentences."""
    if not 0.0 <= score <= 1.0 or n < 1:
        raise ValueError(f"score {score!r} must lie in [0, 1] and n {n!r} must be >= 1")
    return float(stats.binom.std(n, score) / n)
