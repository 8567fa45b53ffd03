"""Evidence for a claim: pick the cells it needs from `RunTables`, say which are missing, run
the test fitted to it and apply its verdict rule.

Each function returns an `Evidence`. A claim whose cells are not all complete (every seed
finished at every rate, at least `min_seeds` seeds, the measure present for each) is pending
and lists what is missing; nothing is tested on partial cells. Per task, the cells come from
one study (runs pair by seed only within a study): the study holding most of the wanted
cells complete (ties: most present, then the most runs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from repro.findings.statistics import binomial_se, equivalence, holm, page_trend, paired_difference
from repro.findings.tidy import RunTables
from repro.findings.verdicts import (ALPHA, Comparison, Verdict, equivalence_verdict, family, inconsistency_verdict,
                                     rank_verdict, trend_verdict)

MEASURES = {"test": "test score", "gap": "test minus train score", "mlm_diff": "MLM precision@1 change",
            "secondary_diff": "secondary score minus base run"}


@dataclass(frozen=True)
class Cell:
    """A variant at a subset size (None: BitFit's share, or a fixed-size variant)."""

    variant: str
    size: float | None = None

    @property
    def label(self) -> str:
        return self.variant if self.size is None else f"{self.variant}@{self.size:g}"


@dataclass(frozen=True)
class Evidence:
    """Ours for one claim. `mean`, `low`, `high`, `n`, `p`: the deciding effect (the comparison
    that decides the verdict, or the claim's one effect), its 95% CI, the pairs or blocks behind
    it and the p-value the rule read; `summary` says the same in words. `noise_floor`: the
    largest binomial standard error of a mean score on the claim's test sets (NaN: unknown).
    `details`: one row per comparison; `missing`: what keeps a pending claim pending; `tasks`:
    the tasks the effect was computed on."""

    verdict: Verdict
    summary: str
    test: str
    mean: float = float("nan")
    low: float = float("nan")
    high: float = float("nan")
    n: int = 0
    p: float = float("nan")
    noise_floor: float = float("nan")
    details: pd.DataFrame = field(default_factory=pd.DataFrame)
    missing: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()


def pending(test: str, missing: Sequence[str]) -> Evidence:
    """The evidence of a claim that waits for runs: `missing` says which."""
    return Evidence(Verdict.PENDING, f"pending: {len(missing)} cell(s) incomplete", test, missing=tuple(missing))


@dataclass(frozen=True)
class Scope:
    """Per task, the study the claim reads; `missing` lists incomplete wanted cells."""

    studies: dict[str, str]
    missing: tuple[str, ...]


def size_mask(sizes: pd.Series, size: float | None) -> pd.Series:
    return sizes.isna() if size is None else np.isclose(sizes.astype(float), size, rtol=1e-9, atol=0)


GENERALITY_MEASURES = ("mlm", "mlm_diff", "secondary_diff")  # read from `RunTables.generality`


def _rows(tables: RunTables, measure: str) -> pd.DataFrame:
    return tables.generality if measure in GENERALITY_MEASURES else tables.seeds


def values(tables: RunTables, study: str, task: str, cell: Cell, measure: str) -> pd.Series:
    """The measure per seed (index) of one cell (at its chosen rate; section 4's measures at the
    rate measured); NaN values dropped."""
    s = _rows(tables, measure)
    rows = s[(s["study"] == study) & (s["task"] == task) & (s["variant"] == cell.variant)
             & size_mask(s["subset_size"], cell.size)]
    return rows.set_index("seed")[measure].dropna().sort_index()


def paired_values(tables: RunTables, study: str, task: str, a: Cell, b: Cell, measure: str) -> pd.DataFrame:
    """Two columns, `a`'s and `b`'s values of `measure`, on the seeds both have (the pairs)."""
    return pd.concat([values(tables, study, task, a, measure), values(tables, study, task, b, measure)],
                     axis=1, join="inner")


def _problem(tables: RunTables, study: str, task: str, cell: Cell, measure: str, min_seeds: int) -> str | None:
    """Why a cell cannot be used yet, or None. Scores: every rate x seed finished and at least
    `min_seeds` seeds. Section 4's measures: the cell measured on every seed that any cell of
    its study and task was measured on, and those are at least `min_seeds`."""
    c = tables.cells
    row = c[(c["study"] == study) & (c["task"] == task) & (c["variant"] == cell.variant) & size_mask(c["subset_size"], cell.size)]
    where, what = f"{task}: {cell.label}", MEASURES.get(measure, measure)
    if row.empty:
        return f"{where}: no runs"
    row = row.iloc[0]
    have = set(values(tables, study, task, cell, measure).index)
    if measure in GENERALITY_MEASURES:
        g = tables.generality
        expected = set(g.loc[(g["study"] == study) & (g["task"] == task) & g[measure].notna(), "seed"])
        if len(expected) < min_seeds:
            return f"{where}: {what} for {len(have)} seed(s), the claim needs {min_seeds}"
        return None if expected <= have else f"{where}: {what} for {len(have & expected)} of {len(expected)} seeds"
    if not row["complete"]:
        return f"{where}: {row['unfinished']} of {len(row['grid']) * row['seeds_expected']} runs (rate x seed) unfinished"
    if row["seeds_expected"] < min_seeds:
        return f"{where}: {row['seeds_expected']} seed(s), the claim needs {min_seeds}"
    if len(have) < row["n_seeds"]:
        return f"{where}: {what} for {len(have)} of {row['n_seeds']} seeds"
    return None


def scope(tables: RunTables, tasks: Sequence[str], wanted: Sequence[Cell], measure: str, min_seeds: int) -> Scope:
    """The study per task (`tasks`, plus any other task where every wanted cell is complete in
    one study) and what is missing."""
    s = _rows(tables, measure)
    has = s[s[measure].notna()] if measure in s else s.iloc[0:0]
    studies, missing = {}, []
    for task in list(tasks) + [t for t in sorted(set(has["task"])) if t not in tasks]:
        candidates = sorted(set(tables.cells.loc[tables.cells["task"] == task, "study"]))
        if not candidates:
            missing.append(f"{task}: no runs")
            continue

        def rank(study):
            problems = [_problem(tables, study, task, w, measure, min_seeds) for w in wanted]
            present = sum(p is None or not p.endswith("no runs") for p in problems)
            return (problems.count(None), present, int((tables.seeds["study"] == study).sum()), study)

        study = max(candidates, key=rank)
        problems = [p for w in wanted if (p := _problem(tables, study, task, w, measure, min_seeds))]
        if task in tasks or not problems:
            studies[task] = study
            missing += problems
    return Scope(studies, tuple(missing))


def noise_floor(scores: Mapping[str, float], test_sizes: Mapping[str, int]) -> float:
    """The largest binomial standard error over tasks of a mean score on each task's test set
    (NaN when no task's size is known)."""
    floors = [binomial_se(min(max(score, 0.0), 1.0), test_sizes[task]) for task, score in scores.items()
              if task in test_sizes and not math.isnan(score)]
    return max(floors) if floors else float("nan")


def _details(comparisons: Sequence[Comparison]) -> pd.DataFrame:
    return pd.DataFrame([{"comparison": c.label, "group": c.group, "difference": c.test.mean, "ci low": c.test.low,
                          "ci high": c.test.high, "n": c.test.n, "p": c.test.p, "p (Holm)": c.p_adjusted}
                         for c in comparisons])


def _deciding(comparisons: Sequence[Comparison], verdict: Verdict, k: int) -> Comparison:
    """The comparison that decides a rank verdict: the strongest one against the claim when
    contradicted, else per group the (m - k + 1)-th strongest for it, the weakest of those."""
    if verdict == Verdict.CONTRADICTED:
        against = [c for c in comparisons if c.test.mean < 0]
        return min(against, key=lambda c: c.p_adjusted)
    strength = lambda c: (not c.test.mean > 0, c.p_adjusted if not math.isnan(c.p_adjusted) else 1.0)  # noqa: E731
    groups: dict[str, list[Comparison]] = {}
    for c in comparisons:
        groups.setdefault(c.group, []).append(c)
    decisive = [sorted(g, key=strength)[max(len(g) - k, 0)] for g in groups.values()]
    return max(decisive, key=strength)


def describe(c: Comparison, measure: str) -> str:
    t = c.test
    return (f"{c.label}: {t.mean:+.4f} [{t.low:+.4f}, {t.high:+.4f}] ({MEASURES.get(measure, measure)}, n={t.n} "
            f"pairs, Holm p={c.p_adjusted:.3g})")


def compare(tables: RunTables, tasks: Sequence[str], pairs: Sequence[tuple[Cell, Cell]], *, measure: str = "test",
            k: int = 1, min_seeds: int, pool_tasks: bool = False,
            test_sizes: Mapping[str, int] | None = None) -> Evidence:
    """Paired t-tests of a - b for each (a, b) in `pairs` (a claimed better), per task (group =
    task) or, with `pool_tasks`, over every (task, seed) pair at once (as the paper's averages
    over tasks); one Holm family; `rank_verdict` with `k`."""
    name = f"paired t-test per {'pair, pooled over tasks' if pool_tasks else 'task and pair'}, Holm; rank rule k={k}"
    wanted = list(dict.fromkeys([c for pair in pairs for c in pair]))
    where = scope(tables, tasks, wanted, measure, min_seeds)
    if where.missing:
        return pending(name, where.missing)
    tests = []
    for a, b in pairs:
        samples = []
        for task, study in where.studies.items():
            samples.append((task, paired_values(tables, study, task, a, b, measure)))
        if pool_tasks:
            joined = pd.concat([j for _, j in samples])
            tests.append((f"{a.label} - {b.label}", "all tasks", paired_difference(joined.iloc[:, 0], joined.iloc[:, 1])))
        else:
            tests += [(f"{task}: {a.label} - {b.label}", task, paired_difference(j.iloc[:, 0], j.iloc[:, 1]))
                      for task, j in samples]
    comparisons = family(tests)
    verdict = rank_verdict(comparisons, k)
    deciding = _deciding(comparisons, verdict, k)
    return Evidence(verdict, describe(deciding, measure), f"{name} ({len(tests)} pairs)", deciding.test.mean,
                    deciding.test.low, deciding.test.high, deciding.test.n, deciding.p_adjusted,
                    floor_of(tables, where, wanted, measure, test_sizes), _details(comparisons),
                    tasks=tuple(where.studies))


def floor_of(tables: RunTables, where: Scope, cells: Sequence[Cell], measure: str,
             test_sizes: Mapping[str, int] | None) -> float:
    """`noise_floor` of the test sets a measure reads: the primary tasks' (at the mean test score
    of `cells`) for test scores and gaps, the secondary tasks' for secondary scores, none (NaN)
    for the MLM probe."""
    sec = tables.secondary
    if measure in ("test", "gap"):
        scores = {task: float(pd.concat([values(tables, study, task, c, "test") for c in cells]).mean())
                  for task, study in where.studies.items()}
    elif measure == "secondary_diff" and not sec.empty:
        scores = sec.groupby("secondary_task")["secondary_test"].mean().to_dict()
    else:
        return float("nan")
    return noise_floor(scores, test_sizes or {})


def equivalent(tables: RunTables, tasks: Sequence[str], pairs: Sequence[tuple[Cell, Cell]], *, margin: float,
               min_seeds: int, measure: str = "test", test_sizes: Mapping[str, int] | None = None) -> Evidence:
    """TOST of a - b within +-`margin` per task and pair (`equivalence_verdict`); the deciding
    comparison is the least equivalent one (largest TOST p), or, when contradicted, the one
    most clearly beyond the margin."""
    name = f"paired TOST within +-{margin:g} per task and pair (Holm for 'beyond')"
    wanted = list(dict.fromkeys([c for pair in pairs for c in pair]))
    where = scope(tables, tasks, wanted, measure, min_seeds)
    if where.missing:
        return pending(name, where.missing)
    labelled = []
    for task, study in where.studies.items():
        for a, b in pairs:
            joined = paired_values(tables, study, task, a, b, measure)
            labelled.append((f"{task}: {a.label} - {b.label}", equivalence(joined.iloc[:, 0], joined.iloc[:, 1], margin)))
    results = [r for _, r in labelled]
    verdict = equivalence_verdict(results)
    beyond = holm([r.p_beyond for r in results])
    if verdict == Verdict.CONTRADICTED:
        index = int(np.nanargmin(beyond))
        p = float(beyond[index])
    else:
        index = int(np.argmax([1.0 if math.isnan(r.p) else r.p for r in results]))
        p = results[index].p
    label, chosen = labelled[index]
    d = chosen.difference
    details = pd.DataFrame([{"comparison": lab, "difference": r.difference.mean, "ci low": r.difference.low,
                             "ci high": r.difference.high, "n": r.difference.n, "p (TOST)": r.p,
                             "p beyond margin (Holm)": pb} for (lab, r), pb in zip(labelled, beyond)])
    summary = (f"{label}: {d.mean:+.4f} [{d.low:+.4f}, {d.high:+.4f}] (n={d.n} pairs; TOST p={chosen.p:.3g}, "
               f"margin +-{margin:g}); {sum(r.p < ALPHA for r in results)} of {len(results)} pairs shown equivalent")
    return Evidence(verdict, summary, name, d.mean, d.low, d.high, d.n, p,
                    floor_of(tables, where, wanted, measure, test_sizes), details, tasks=tuple(where.studies))


def ordered(tables: RunTables, tasks: Sequence[str], order: Sequence[Cell], *, min_seeds: int,
            measure: str = "test", test_sizes: Mapping[str, int] | None = None) -> Evidence:
    """Page's trend test of `order` (claimed lowest first) over blocks (task, seed); the effect
    is the smaller of the adjacent steps' mean paired differences, with its 95% CI."""
    name = f"Page's trend test over (task, seed) blocks, {len(order)} treatments"
    where = scope(tables, tasks, order, measure, min_seeds)
    if where.missing:
        return pending(name, where.missing)
    blocks = pd.concat([pd.concat([values(tables, study, task, c, measure) for c in order], axis=1, join="inner")
                        for task, study in where.studies.items()])
    trend = page_trend(blocks.to_numpy())
    steps = [(f"{order[i + 1].label} - {order[i].label}", paired_difference(blocks.iloc[:, i + 1], blocks.iloc[:, i]))
             for i in range(len(order) - 1)]
    label, step = min(steps, key=lambda s: s[1].mean)
    details = pd.DataFrame([{"comparison": lab, "difference": t.mean, "ci low": t.low, "ci high": t.high, "n": t.n,
                             "p": t.p} for lab, t in steps])
    summary = (f"smallest step {label}: {step.mean:+.4f} [{step.low:+.4f}, {step.high:+.4f}] over {trend.blocks} "
               f"(task, seed) blocks; Page p={trend.p:.3g} (reverse order p={trend.p_reverse:.3g})")
    return Evidence(trend_verdict(trend), summary, name, step.mean, step.low, step.high, trend.blocks, trend.p,
                    floor_of(tables, where, order, measure, test_sizes), details, tasks=tuple(where.studies))


def similarity(tables: RunTables, task: str, similar: str, dissimilar: str, cells: Sequence[Cell], *,
               min_seeds: int) -> Evidence:
    """Section 4.4: does adapting to a similar secondary task fare differently from a dissimilar
    one? Per primary cell on `task`, the paired difference over seeds of (similar secondary
    score minus its base run) minus (the same for the dissimilar task), Holm across cells; pooled:
    per seed, the mean over cells. `inconsistency_verdict`: the paper found no consistent effect."""
    name = "paired t-test pooled over cells (per seed) and per cell (Holm)"
    where = scope(tables, [task], cells, "secondary_diff", min_seeds)
    if where.missing:
        return pending(name, where.missing)
    sec, study = tables.secondary, where.studies[task]
    per_cell = []
    for cell in cells:
        seeds = values(tables, study, task, cell, "secondary_diff").index
        rows = sec[(sec["study"] == study) & (sec["task"] == task) & (sec["variant"] == cell.variant)
                   & size_mask(sec["subset_size"], cell.size) & sec["seed"].isin(seeds)]
        both = [rows[rows["secondary_task"] == t].set_index("seed")["secondary_diff"] for t in (similar, dissimilar)]
        per_cell.append((cell, pd.concat(both, axis=1, join="inner").set_axis(["similar", "dissimilar"], axis=1)))
    missing = [f"{task}: {cell.label}: no secondary runs on both {similar} and {dissimilar}"
               for cell, joined in per_cell if joined.empty]
    if missing:
        return pending(name, missing)
    comparisons = family([(f"{cell.label}: {similar} - {dissimilar}", cell.label,
                           paired_difference(j["similar"], j["dissimilar"])) for cell, j in per_cell])
    pooled_frame = pd.concat([j for _, j in per_cell]).groupby(level=0).mean()
    pooled = paired_difference(pooled_frame["similar"], pooled_frame["dissimilar"])
    verdict = inconsistency_verdict(pooled, comparisons)
    positive = sum(c.p_adjusted < ALPHA and c.test.mean > 0 for c in comparisons)
    negative = sum(c.p_adjusted < ALPHA and c.test.mean < 0 for c in comparisons)
    summary = (f"({similar} - base) - ({dissimilar} - base), mean over cells: {pooled.mean:+.4f} [{pooled.low:+.4f}, "
               f"{pooled.high:+.4f}] (n={pooled.n} seeds, p={pooled.p:.3g}); cells significant: {positive} for "
               f"{similar}, {negative} for {dissimilar}, of {len(comparisons)}")
    return Evidence(verdict, summary, name, pooled.mean, pooled.low, pooled.high, pooled.n, pooled.p,
                    details=_details(comparisons), tasks=(task,))
