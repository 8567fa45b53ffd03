"""The verdict rules: from test results to holds / contradicted / inconclusive / pending.

Thresholds, fixed before any reference result was read:

- ALPHA = 0.05 for every test; a NaN p-value (a test that could not be computed) is never
  significant.
- Families of paired comparisons (the pairs of one table) are Holm-corrected together
  (`repro.findings.statistics.holm`) before a rule counts them.
- EQUIVALENCE_MARGIN = 0.01: one point of accuracy or F1, the most by which two methods may
  differ and still "score similarly". The paper calls 0.2-0.6 points "marginal" (Table 1:
  combined vs downstream sq-grad) and its own selectors span up to 1.7 points (TREC-6).

Rules (each returns a `Verdict`):

- `rank_verdict` (k): in each group, the claimed side is among the top k. Holds when at least
  m - (k - 1) of the group's m comparisons are significantly in the claimed direction;
  contradicted when at least k are significantly against it. k = 1: every comparison in the
  claimed direction ("full fine-tuning beats every PEFT method").
- `equivalence_verdict`: holds when every comparison's TOST is significant (an intersection-
  union test: no correction needed); contradicted when any difference lies significantly
  beyond the margin (Holm across the family).
- `trend_verdict`: Page's test of a claimed order; holds when the claimed order is
  significant, contradicted when its reverse is.
- `sign_verdict`: one effect claimed positive (e.g. a signed-rank test's median).
- `inconsistency_verdict`: for the paper's "no conclusion can be drawn" (similar vs dissimilar
  secondary tasks): holds when no consistent effect shows (the pooled test is not significant,
  or significant cells disagree in sign); contradicted when the pooled effect is significant and
  no significant cell opposes it.

Any rule's result is pending when the data it needs is missing: the claims decide that before
testing (`repro.findings.evidence`), and `all_of` keeps it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Sequence

from repro.findings.statistics import Equivalence, PairedTest, Trend, holm

ALPHA = 0.05
EQUIVALENCE_MARGIN = 0.01


class Verdict(str, Enum):
    HOLDS = "holds"
    CONTRADICTED = "contradicted"
    INCONCLUSIVE = "inconclusive at this scale"
    PENDING = "pending"


def significant(p: float, alpha: float = ALPHA) -> bool:
    """p < alpha; a NaN p (no test) is never significant."""
    return not math.isnan(p) and p < alpha


@dataclass(frozen=True)
class Comparison:
    """One paired comparison of a family: claimed-better minus claimed-worse (`test`), the group
    a rank rule counts it in (e.g. its task), a label, and its Holm-adjusted p within the family."""

    label: str
    group: str
    test: PairedTest
    p_adjusted: float


def family(tests: Sequence[tuple[str, str, PairedTest]]) -> list[Comparison]:
    """(label, group, test) triples as one Holm-corrected family of `Comparison`s."""
    adjusted = holm([t.p for _, _, t in tests])
    return [Comparison(label, group, test, float(p)) for (label, group, test), p in zip(tests, adjusted)]


def all_of(verdicts: Iterable[Verdict]) -> Verdict:
    """Several parts of one claim: pending if any part is, else contradicted if any part is,
    holds if every part holds, inconclusive otherwise (and for no parts at all)."""
    verdicts = list(verdicts)
    if Verdict.PENDING in verdicts:
        return Verdict.PENDING
    if Verdict.CONTRADICTED in verdicts:
        return Verdict.CONTRADICTED
    return Verdict.HOLDS if verdicts and all(v == Verdict.HOLDS for v in verdicts) else Verdict.INCONCLUSIVE


def rank_verdict(comparisons: Sequence[Comparison], k: int = 1, alpha: float = ALPHA) -> Verdict:
    """Per group, is the claimed side among the top k of itself and the group's m others? Each
    comparison is claimed side minus one other (Holm-adjusted p). `all_of` over the groups."""
    if k < 1:
        raise ValueError(f"k {k!r} must be >= 1")
    if not comparisons:
        raise ValueError("rank_verdict needs at least one comparison")
    groups: dict[str, list[Comparison]] = {}
    for c in comparisons:
        groups.setdefault(c.group, []).append(c)
    verdicts = []
    for members in groups.values():
        better = sum(significant(c.p_adjusted, alpha) and c.test.mean > 0 for c in members)
        worse = sum(significant(c.p_adjusted, alpha) and c.test.mean < 0 for c in members)
        verdicts.append(Verdict.CONTRADICTED if worse >= k else
                        Verdict.HOLDS if better >= len(members) - (k - 1) else Verdict.INCONCLUSIVE)
    return all_of(verdicts)


def equivalence_verdict(results: Sequence[Equivalence], alpha: float = ALPHA) -> Verdict:
    """Every difference within the margin (TOST) -> holds; any beyond it (Holm) -> contradicted."""
    if not results:
        raise ValueError("equivalence_verdict needs at least one comparison")
    beyond = holm([r.p_beyond for r in results])
    if any(significant(p, alpha) for p in beyond):
        return Verdict.CONTRADICTED
    return Verdict.HOLDS if all(significant(r.p, alpha) for r in results) else Verdict.INCONCLUSIVE


def trend_verdict(trend: Trend, alpha: float = ALPHA) -> Verdict:
    """Page's test: the claimed order significant -> holds; its reverse -> contradicted."""
    if significant(trend.p, alpha):
        return Verdict.HOLDS
    return Verdict.CONTRADICTED if significant(trend.p_reverse, alpha) else Verdict.INCONCLUSIVE


def sign_verdict(effect: float, p: float, alpha: float = ALPHA) -> Verdict:
    """An effect claimed positive: significant and positive -> holds; significant and negative ->
    contradicted; otherwise inconclusive."""
    if not significant(p, alpha) or effect == 0:
        return Verdict.INCONCLUSIVE
    return Verdict.HOLDS if effect > 0 else Verdict.CONTRADICTED


def inconsistency_verdict(pooled: PairedTest, cells: Sequence[Comparison], alpha: float = ALPHA) -> Verdict:
    """The claim "no consistent effect": `pooled` tests the effect over everything, `cells` per
    cell (Holm-adjusted). Holds unless the pooled effect is significant and no significant cell
    has the opposite sign; then contradicted."""
    if not significant(pooled.p, alpha):
        return Verdict.HOLDS
    opposed = any(significant(c.p_adjusted, alpha) and c.test.mean * pooled.mean < 0 for c in cells)
    return Verdict.HOLDS if opposed else Verdict.CONTRADICTED
