"""Evidence for the learning-rate claims (the paper's Figs. 2 and 4): the chosen rate falls as the
subset grows, and a random subset wants a higher rate than a gradient-selected one.

The data are the chosen rates of complete cells (`RunTables.cells`), compared on a log10 scale.
A rate at the edge of its grid is a bound, not an optimum (the paper's red triangles): it still
counts, and the summary says how many there were.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from repro.findings.evidence import Cell, Evidence, size_mask, pending, scope
from repro.findings.statistics import page_trend, paired_difference, signed_rank
from repro.findings.tidy import RunTables
from repro.findings.verdicts import sign_verdict, trend_verdict


def _chosen(tables: RunTables, study: str, task: str, cell: Cell) -> tuple[float, bool]:
    c = tables.cells
    row = c[(c["study"] == study) & (c["task"] == task) & (c["variant"] == cell.variant)
            & size_mask(c["subset_size"], cell.size)].iloc[0]
    return float(row["learning_rate"]), bool(row["at_edge"])


def rate_trend(tables: RunTables, tasks: Sequence[str], selectors: Sequence[str], sizes: Sequence[float], *,
               min_seeds: int) -> Evidence:
    """Page's trend test that the chosen rate falls as the subset grows: blocks (task, selector),
    treatments the `sizes`; the effect is log10 of the rate at the smallest size over the rate at
    the largest, with its 95% t CI over the blocks."""
    sizes = sorted(sizes)
    name = f"Page's trend test over (task, selector) blocks, {len(sizes)} subset sizes"
    where = scope(tables, tasks, [Cell(s, size) for s in selectors for size in sizes], "test", min_seeds)
    if where.missing:
        return pending(name, where.missing)
    rows, edges = [], 0
    for task, study in where.studies.items():
        for selector in selectors:
            chosen = [_chosen(tables, study, task, Cell(selector, size)) for size in sizes]
            edges += sum(edge for _, edge in chosen)
            rows.append({"block": f"{task}: {selector}", **{f"{size:g}": rate for size, (rate, _) in zip(sizes, chosen)}})
    details = pd.DataFrame(rows).set_index("block")
    logs = np.log10(details.to_numpy(dtype=float))
    trend = page_trend(logs[:, ::-1])  # largest size first: the claimed lowest rate first
    effect = paired_difference(logs[:, 0], logs[:, -1])
    summary = (f"rate at {sizes[0]:g} / rate at {sizes[-1]:g}: 10^{effect.mean:+.2f} [10^{effect.low:+.2f}, "
               f"10^{effect.high:+.2f}] over {trend.blocks} (task, selector) blocks; Page p={trend.p:.3g} (rising: "
               f"p={trend.p_reverse:.3g}); {edges} of {logs.size} choices at a grid edge")
    return Evidence(trend_verdict(trend), summary, name, effect.mean, effect.low, effect.high, trend.blocks, trend.p,
                    details=details, tasks=tuple(where.studies))


def rate_pairs(tables: RunTables, tasks: Sequence[str], higher: str, lower: str, sizes: Sequence[float], *,
               min_seeds: int) -> Evidence:
    """Wilcoxon's signed-rank test that `higher`'s chosen rate is above `lower`'s at the same task
    and subset size: the differences of log10 rates over (task, size) cells; the effect is their
    mean with its 95% t CI, the verdict `sign_verdict` of that mean and the Wilcoxon p."""
    name = "Wilcoxon signed-rank test over (task, subset size) cells of log10 rate ratios"
    where = scope(tables, tasks, [Cell(s, size) for s in (higher, lower) for size in sizes], "test", min_seeds)
    if where.missing:
        return pending(name, where.missing)
    rows = []
    for task, study in where.studies.items():
        for size in sizes:
            (high, high_edge), (low, low_edge) = (_chosen(tables, study, task, Cell(v, size)) for v in (higher, lower))
            rows.append({"cell": f"{task}@{size:g}", higher: high, lower: low, "at edge": high_edge or low_edge,
                         "log10 ratio": float(np.log10(high / low))})
    details = pd.DataFrame(rows).set_index("cell")
    effect = paired_difference(np.log10(details[higher].to_numpy()), np.log10(details[lower].to_numpy()))
    test = signed_rank(details["log10 ratio"].to_numpy())
    summary = (f"{higher} / {lower} rate: 10^{effect.mean:+.2f} [10^{effect.low:+.2f}, 10^{effect.high:+.2f}] over "
               f"{len(details)} cells, higher in {int((details['log10 ratio'] > 0).sum())}, equal in "
               f"{int((details['log10 ratio'] == 0).sum())}; Wilcoxon p={test.p:.3g}; "
               f"{int(details['at edge'].sum())} cell(s) with a choice at a grid edge")
    return Evidence(sign_verdict(effect.mean, test.p), summary, name, effect.mean, effect.low, effect.high,
                    len(details), test.p, details=details, tasks=tuple(where.studies))
