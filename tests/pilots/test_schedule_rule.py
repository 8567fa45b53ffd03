"""The schedule pilot's rule (pilots/schedule.py) on synthetic cells with known answers."""
import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "pilots" / "schedule.py"
_SPEC = importlib.util.spec_from_file_location("pilot_schedule", _PATH)
schedule = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = schedule  # dataclasses look their module up
_SPEC.loader.exec_module(schedule)
Cell, choose_schedule, cheaper_option = schedule.Cell, schedule.choose_schedule, schedule.cheaper_option


def grid(scores: dict, seconds: dict | None = None) -> list:
    return [Cell(n, e, s, (seconds or {}).get((n, e))) for (n, e), s in scores.items()]


def test_picks_the_cheapest_cell_on_the_plateau():
    cells = grid({(1000, 1): 0.70, (2000, 1): 0.80, (4000, 1): 0.855, (8000, 1): 0.86, (2000, 2): 0.84})
    chosen = choose_schedule(cells)
    assert (chosen.train_size, chosen.epochs) == (4000, 1)


def test_a_score_exactly_one_point_below_the_best_is_within():
    cells = grid({(1000, 1): 0.4906, (8000, 1): 0.5006})  # 0.5006 - 0.01 > 0.4906 in floating point
    assert choose_schedule(cells).train_size == 1000
    assert choose_schedule(grid({(1000, 1): 0.8399, (8000, 1): 0.85})).train_size == 8000


def test_cost_ties_go_to_the_higher_score_then_fewer_epochs():
    cells = grid({(2000, 2): 0.85, (4000, 1): 0.855, (8000, 1): 0.86})
    chosen = choose_schedule(cells)
    assert (chosen.train_size, chosen.epochs) == (4000, 1)
    tied = grid({(4000, 1): 0.85, (2000, 2): 0.85, (8000, 1): 0.85})
    assert (choose_schedule(tied).train_size, choose_schedule(tied).epochs) == (4000, 1)


def test_cheaper_with_more_epochs_beats_more_data():
    cells = grid({(1000, 3): 0.855, (4000, 1): 0.86})  # 3,000 examples seen against 4,000
    assert (choose_schedule(cells).train_size, choose_schedule(cells).epochs) == (1000, 3)


def test_missing_and_diverged_cells_are_skipped():
    cells = grid({(1000, 1): None, (2000, 1): float("nan"), (4000, 1): 0.80, (8000, 1): 0.81})
    assert choose_schedule(cells).train_size == 4000


def test_tolerance_zero_gives_the_best_cell():
    cells = grid({(1000, 1): 0.85, (8000, 2): 0.86})
    assert (choose_schedule(cells, tolerance=0.0).train_size, choose_schedule(cells, tolerance=0.0).epochs) == (8000, 2)


def test_max_seconds_sets_what_is_affordable():
    cells = grid({(1000, 1): 0.80, (4000, 1): 0.85, (8000, 1): 0.90}, {(1000, 1): 20, (4000, 1): 60, (8000, 1): 120})
    assert choose_schedule(cells, max_seconds=90).train_size == 4000
    assert choose_schedule(cells).train_size == 8000


def test_no_scored_cell_is_an_error():
    with pytest.raises(ValueError, match="no cell with a validation score"):
        choose_schedule(grid({(1000, 1): None}))
    with pytest.raises(ValueError, match="tolerance"):
        choose_schedule(grid({(1000, 1): 0.5}), tolerance=-0.1)


def test_cheaper_option_is_the_best_within_two_points_and_the_time_limit():
    cells = grid({(1000, 1): 0.83, (2000, 1): 0.845, (4000, 1): 0.85, (8000, 1): 0.86},
                 {(1000, 1): 20, (2000, 1): 40, (4000, 1): 80, (8000, 1): 160})
    option = cheaper_option(cells, max_seconds=90, tolerance=0.02)
    assert option.train_size == 4000
    assert cheaper_option(cells, max_seconds=30, tolerance=0.02) is None  # 0.83 is 3 points below



def test_only_affordable_cells_compete():
    cells = [Cell(1000, 2, 0.75), Cell(2000, 1, 0.749), Cell(3370, 1, 0.775)]
    assert choose_schedule(cells, max_seen=3000) == Cell(1000, 2, 0.75)  # 3,370 seen is over the limit
    assert choose_schedule(cells) == Cell(3370, 1, 0.775)
