"""The paper's grid rule (section 3.2): a learning rate chosen at the edge of its grid makes
the experiment invalid, so the grid is extended past that edge and the cell rerun, until the
choice is inside the grid, the cap (0.1, as in the paper) is reached, or rounds run out.

Grids on the paper's 1-2-5 ladder grow by its next step, grids on the 1-3 half-decade ladder
(the `cpu` profile's) by theirs, any other grid by its own ratio at that edge.
"""
from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from repro.runs.learning_rate import summarise
from repro.runs.study import Study, size_label

LR_CAP = 0.1     # the paper did not go above 0.1
LR_FLOOR = 1e-7
LADDERS = ((1.0, 2.0, 5.0), (1.0, 3.0))


def _ladder_position(value: float, ladder: tuple[float, ...]) -> tuple[int, int] | None:
    """(mantissa index, exponent) of a ladder value, None when off the ladder."""
    exponent = math.floor(math.log10(value) + 1e-9)
    mantissa = value / 10.0**exponent
    for index, step in enumerate(ladder):
        if math.isclose(mantissa, step, rel_tol=1e-6):
            return index, exponent
    return None


def _ladder_step(value: float, upward: bool, ladder: tuple[float, ...]) -> float:
    index, exponent = _ladder_position(value, ladder)
    index += 1 if upward else -1
    exponent += index // len(ladder)
    return float(f"{ladder[index % len(ladder)]:g}e{exponent}")


def next_rate(grid: list[float], upward: bool) -> float | None:
    """The value beyond the grid's upper (or lower) edge; None past the cap or the floor."""
    grid = sorted(grid)
    edge = grid[-1] if upward else grid[0]
    ladder = next((lad for lad in LADDERS if all(_ladder_position(v, lad) is not None for v in grid)), None)
    if ladder is not None:
        value = _ladder_step(edge, upward, ladder)
    elif len(grid) > 1:
        ratio = grid[-1] / grid[-2] if upward else grid[1] / grid[0]
        value = edge * ratio if upward else edge / ratio
    else:
        value = edge * 10.0 if upward else edge / 10.0
    value = float(f"{value:.6g}")
    if (upward and value > LR_CAP * (1 + 1e-9)) or (not upward and value < LR_FLOOR):
        return None
    return value


def edge_extensions(summary: pd.DataFrame) -> dict[tuple[str, float | None], list[float]]:
    """For every cell whose best rate is at an edge: the rates to add (one per open edge;
    both edges for a one-value grid). Cells at the cap get nothing."""
    extensions = {}
    for _, row in summary[summary["at_edge"]].iterrows():
        grid, best = list(row["grid"]), row["learning_rate"]
        if math.isnan(best):
            continue
        sides = [True, False] if len(grid) == 1 else [best == max(grid)]
        new = [rate for rate in (next_rate(grid, upward) for upward in sides) if rate is not None]
        if new:
            size = None if pd.isna(row["subset_size"]) else float(row["subset_size"])
            extensions[(row["selector"], size)] = new
    return extensions


def extend_study(study: Study, extensions: dict[tuple[str, float | None], list[float]]) -> Study:
    """`study` with the extra rates added to those cells (as "selector@size" grids)."""
    rates = dict(study.learning_rates)
    for (selector, size), new in extensions.items():
        rates[f"{selector}@{size_label(size)}"] = tuple(sorted(set(study.rates_for(selector, size)) | set(new)))
    return replace(study, learning_rates=rates)


def at_cap(summary: pd.DataFrame) -> pd.Series:
    """Cells whose chosen rate is the cap itself: maybe suboptimal (Fig. 2's red triangles)."""
    return summary["at_edge"] & (summary["learning_rate"] >= LR_CAP * (1 - 1e-9))
