"""From run records to the tidy tables: chosen rates, complete cells, studies kept apart,
secondary differences and MLM probe values."""
from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from findings.synthetic import study, truth_scorer, write, write_probes
from repro.findings import tidy
from repro.findings.measures import mlm_probes
from repro.runs.store import ResultStore, RunResult


def test_each_cell_keeps_its_seeds_at_the_rate_best_on_validation(tmp_path):
    write(tmp_path, study("sst2", ["full", "random"], seeds=(0, 1, 2)),
          truth_scorer({"full": 0.9, "random": 0.8}, best_rate=1e-2, gap={"full": -0.05}))
    tables = tidy.load(tmp_path)
    assert set(tables.cells["learning_rate"]) == {1e-2} and tables.cells["complete"].all()
    assert tables.cells["at_edge"].all()  # 1e-2 is the largest rate of the grid
    full = tables.seeds[tables.seeds["variant"] == "full"]
    assert list(full["seed"]) == [0, 1, 2] and set(full["learning_rate"]) == {1e-2}
    assert full["gap"].tolist() == pytest.approx([-0.05] * 3)


def test_a_rate_at_which_a_seed_diverged_is_not_chosen(tmp_path):
    write(tmp_path, study("sst2", ["random"], seeds=(0, 1)), truth_scorer({"random": 0.8}, best_rate=3e-3),
          status=lambda c: "diverged" if (c.learning_rate == 3e-3 and c.seed == 1) else "ok")
    cell = tidy.load(tmp_path).cells.iloc[0]
    assert cell["learning_rate"] != 3e-3 and cell["complete"]


def test_a_cell_missing_a_run_is_incomplete(tmp_path):
    scorer = truth_scorer({"full": 0.9, "random": 0.8})
    write(tmp_path, study("sst2", ["full", "random"], seeds=(0, 1, 2)),
          lambda v, size, seed, rate: None if (v == "random" and seed == 2 and rate == 1e-3) else scorer(v, size, seed, rate))
    cells = tidy.load(tmp_path).cells.set_index("variant")
    assert cells.loc["full", "complete"] and not cells.loc["random", "complete"]
    assert cells.loc["random", "unfinished"] == 1 and cells.loc["random", "seeds_expected"] == 3


def test_runs_of_two_studies_are_never_pooled_as_seeds(tmp_path):
    write(tmp_path, study("sst2", ["full"], seeds=(0, 1)), truth_scorer({"full": 0.9}))
    write(tmp_path, study("sst2", ["full"], seeds=(0, 1), train_size=200), truth_scorer({"full": 0.7}))
    tables = tidy.load(tmp_path)
    assert len(tables.cells) == 2 and tables.cells["study"].nunique() == 2
    assert sorted(tables.seeds.groupby("study")["test"].mean().round(6)) == [0.7, 0.9]
    assert tables.seeds.groupby("study").size().tolist() == [2, 2]


def secondary_store(tmp_path, secondary_tasks=("trec6", "conll03")):
    """A primary study on SST-2 (full, random), base runs on each secondary task, and secondary
    runs from every primary run at the chosen rate: scores base 0.80, from full 0.79, random 0.77."""
    primaries = write(tmp_path, study("sst2", ["full", "random"], seeds=(0, 1)), truth_scorer({"full": 0.9, "random": 0.85}))
    store = ResultStore(tmp_path)
    for task in secondary_tasks:
        bases = write(tmp_path, study(task, ["full"], seeds=(0, 1), rates=(1e-3,)), truth_scorer({"full": 0.8}, best_rate=1e-3))
        for primary in (p for p in primaries if p.learning_rate == 3e-3):
            base = next(b for b in bases if b.seed == primary.seed)
            score = 0.79 if primary.selector == "full" else 0.77
            store.write(RunResult(dataclasses.replace(base, init_from=primary.run_id()), "ok", {"test": score}))
    return primaries


def test_secondary_scores_are_differences_to_the_base_run_of_the_same_seed(tmp_path):
    secondary_store(tmp_path)
    tables = tidy.load(tmp_path)
    rows = tables.secondary.set_index(["variant", "seed", "secondary_task"])
    assert rows.loc[("random", 1, "trec6"), "secondary_diff"] == pytest.approx(-0.03)
    assert rows.loc[("full", 0, "conll03"), "base_test"] == pytest.approx(0.8)
    primary = tables.generality.set_index(["variant", "seed"])
    assert primary.loc[("full", 0), "secondary_diff"] == pytest.approx(-0.01)
    assert set(tables.generality["task"]) == {"sst2"}  # base runs have no secondary runs of their own


def test_a_primary_run_missing_one_secondary_task_has_no_mean(tmp_path):
    secondary_store(tmp_path)
    victim = next(r for r in ResultStore(tmp_path).results()
                  if r.config.init_from is not None and r.config.task == "conll03" and r.config.seed == 1)
    ResultStore(tmp_path).path_for(victim.config).unlink()
    measured = tidy.load(tmp_path).generality.set_index(["variant", "seed"])
    assert math.isnan(measured.loc[("full", 1), "secondary_diff"])
    assert not math.isnan(measured.loc[("full", 0), "secondary_diff"])


def test_mlm_probe_values_join_their_runs_with_the_difference_to_the_pretrained_encoder(tmp_path):
    configs = write(tmp_path, study("sst2", ["full"], seeds=(0, 1)), truth_scorer({"full": 0.9}))
    write_probes(tmp_path, {c.run_id(): 0.30 + 0.01 * c.seed for c in configs}, pretrained=0.40)
    measured = tidy.load(tmp_path).generality.set_index("seed")
    assert measured["mlm"].tolist() == pytest.approx([0.30, 0.31])
    assert measured["mlm_diff"].tolist() == pytest.approx([-0.10, -0.09])


def test_a_run_probed_under_two_settings_is_refused(tmp_path):
    configs = write(tmp_path, study("sst2", ["full"], seeds=(0,)), truth_scorer({"full": 0.9}))
    probes = pd.concat([mlm_probes(tmp_path)] + [pd.DataFrame(
        [{"subject": configs[0].run_id(), "setting": s, "value": 0.3}]) for s in ("one", "two")])
    with pytest.raises(ValueError, match="under 2 settings"):
        tidy.tables(ResultStore(tmp_path).to_frame(), probes)


def test_a_cell_is_measured_at_the_rate_its_probes_were_taken_even_if_all_seeds_choose_another(tmp_path):
    """The generality pages choose on their own seeds; the measures follow the runs they measured."""
    configs = write(tmp_path, study("sst2", ["full"], seeds=(0, 1, 2)), truth_scorer({"full": 0.9}, best_rate=1e-2))
    write_probes(tmp_path, {c.run_id(): 0.3 for c in configs if c.learning_rate == 3e-3}, pretrained=0.4)
    tables = tidy.load(tmp_path)
    assert set(tables.seeds["learning_rate"]) == {1e-2} and set(tables.generality["learning_rate"]) == {3e-3}


def test_of_two_measured_rates_the_best_on_validation_is_kept(tmp_path):
    configs = write(tmp_path, study("sst2", ["full"], seeds=(0, 1)), truth_scorer({"full": 0.9}, best_rate=1e-3))
    write_probes(tmp_path, {c.run_id(): 0.3 + c.learning_rate for c in configs if c.learning_rate in (1e-3, 1e-2)},
                 pretrained=0.4)
    assert set(tidy.load(tmp_path).generality["learning_rate"]) == {1e-3}


def test_an_empty_store_gives_empty_tables(tmp_path):
    tables = tidy.load(tmp_path)
    assert tables.cells.empty and tables.seeds.empty and tables.secondary.empty and tables.generality.empty
    assert {"complete", "study"} <= set(tables.cells.columns)
