"""The paper's grid rule: a best learning rate at the edge of its grid extends the grid."""
from __future__ import annotations

import pandas as pd
import pytest

from repro.runs.run import Workspace
from repro.runs.grid_extension import at_cap, edge_extensions, extend_study, next_rate
from repro.runs.grid_files import section_study
from repro.runs.sweep import run_study


@pytest.mark.parametrize("grid,upward,expected", [
    ([1e-5, 2e-5, 5e-5], True, 1e-4),     # 1-2-5 ladder
    ([1e-5, 2e-5, 5e-5], False, 5e-6),
    ([2e-4, 5e-4], True, 1e-3),
    ([3e-3, 1e-2, 3e-2], True, 0.1),      # 1-3 half-decades
    ([3e-3, 1e-2, 3e-2], False, 1e-3),
    ([4e-3, 1.2e-2], True, 3.6e-2),       # any other grid: its own ratio
    ([2e-2, 5e-2, 1e-1], True, None),     # the cap, 0.1
])
def test_next_rate(grid, upward, expected):
    assert next_rate(grid, upward) == (pytest.approx(expected) if expected is not None else None)


def summary_row(**row):
    base = dict(model="m", task="sst2", selector="random", subset_size=0.01, grid=[1e-3, 1e-2], learning_rate=1e-2,
                at_edge=True)
    return {**base, **row}


def test_edge_extensions_and_cap():
    summary = pd.DataFrame([
        summary_row(),                                                       # top edge: go up
        summary_row(subset_size=0.1, learning_rate=1e-3),                    # bottom edge: go down
        summary_row(subset_size=1e-4, grid=[5e-2, 1e-1], learning_rate=0.1),  # at the cap: stop
        summary_row(selector="bitfit", subset_size=float("nan"), grid=[1e-3], learning_rate=1e-3),  # one value
        summary_row(subset_size=0.5, grid=[1e-3, 1e-2, 1e-1], at_edge=False),
    ])
    assert edge_extensions(summary) == {("random", 0.01): [2e-2], ("random", 0.1): [5e-4],
                                        ("bitfit", None): [2e-3, 5e-4]}
    assert list(at_cap(summary)) == [False, False, True, False, False]


def test_extend_study_adds_rates_to_one_cell():
    study = section_study("subset_size", "smoke", "sst2", selectors="random,bitfit")
    extended = extend_study(study, {("random", 0.01): [0.2], ("bitfit", None): [5e-3]})
    assert extended.rates_for("random", 0.01) == (0.01, 0.1, 0.2)
    assert extended.rates_for("random", 0.001) == study.rates_for("random", 0.001)
    assert extended.rates_for("bitfit", None) == (5e-3, 0.01, 0.1)


def test_run_study_extends_until_inside_or_capped(tmp_path, study_data):
    workspace = Workspace.create(tmp_path, study_data, device="cpu", progress=False)
    study = section_study("subset_size", "smoke", "sst2", selectors="bitfit", seeds=[0], learning_rates=[1e-3])
    extended, results = run_study(study, workspace, extend_edges=True, max_rounds=2)
    grid = extended.rates_for("bitfit", None)
    assert len(grid) > 1 and 1e-3 in grid and len(results) == len(grid)
    assert all(r.status == "ok" for r in results)
    same, _ = run_study(study, workspace, extend_edges=False)
    assert same.rates_for("bitfit", None) == (1e-3,)
