"""Learning-rate choice on validation, the edge flag, and studies built from the grid files."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from repro.runs.config import RunConfig
from repro.runs.learning_rate import chosen_runs, summarise
from repro.runs.store import config_row
from repro.runs.grid_files import section_grid, section_study
from repro.runs.profiles import PROFILES


def frame(rows):
    base = dict(model="m", task="sst2", selector="random", subset_size=0.01, sel_fraction=0.01, status="ok")
    return pd.DataFrame([{**base, **row} for row in rows])


def test_best_validation_rate_is_chosen_and_test_reported():
    summary = summarise(frame([
        dict(learning_rate=1e-3, seed=0, metric_validation=0.70, metric_test=0.60),
        dict(learning_rate=1e-2, seed=0, metric_validation=0.80, metric_test=0.75),
        dict(learning_rate=1e-2, seed=1, metric_validation=0.78, metric_test=0.77),
        dict(learning_rate=1e-1, seed=0, metric_validation=0.60, metric_test=0.99),  # test never chooses
    ]))
    row = summary.iloc[0]
    assert row["learning_rate"] == 1e-2 and not row["at_edge"]
    assert row["test_mean"] == pytest.approx(0.76) and row["test_std"] == pytest.approx(math.sqrt(2) * 0.01)
    assert row["n_seeds"] == 2 and row["grid"] == [1e-3, 1e-2, 1e-1]


@pytest.mark.parametrize("best,edge", [(1e-3, True), (1e-1, True), (1e-2, False)])
def test_edge_flag(best, edge):
    rows = [dict(learning_rate=lr, seed=0, metric_validation=1.0 if lr == best else 0.5, metric_test=0.5)
            for lr in (1e-3, 1e-2, 1e-1)]
    assert bool(summarise(frame(rows)).iloc[0]["at_edge"]) is edge


def test_single_rate_grid_is_at_edge():
    assert bool(summarise(frame([dict(learning_rate=1e-2, seed=0, metric_validation=0.5, metric_test=0.5)])).iloc[0]["at_edge"])


def test_diverged_and_failed_runs_never_win_but_count():
    summary = summarise(frame([
        dict(learning_rate=1e-3, seed=0, metric_validation=0.5, metric_test=0.5),
        dict(learning_rate=1e-2, seed=0, metric_validation=0.6, metric_test=0.6),
        dict(learning_rate=1e-1, seed=0, status="diverged", metric_validation=None, metric_test=None),
        dict(learning_rate=1e0, seed=0, status="failed", sel_fraction=None, metric_validation=None, metric_test=None),
    ]))
    row = summary.iloc[0]
    assert row["learning_rate"] == 1e-2 and not row["at_edge"]
    assert (row["n_diverged"], row["n_failed"], row["n_seeds"]) == (1, 1, 1) and math.isnan(row["test_std"])


def test_a_rate_where_any_seed_diverged_is_not_chosen_on_its_survivors():
    summary = summarise(frame([
        dict(learning_rate=1e-3, seed=0, metric_validation=0.6, metric_test=0.6),
        dict(learning_rate=1e-3, seed=1, metric_validation=0.6, metric_test=0.6),
        dict(learning_rate=1e-2, seed=0, metric_validation=0.9, metric_test=0.9),
        dict(learning_rate=1e-2, seed=1, status="diverged", metric_validation=None, metric_test=None),
    ]))
    row = summary.iloc[0]
    assert row["learning_rate"] == 1e-3 and row["n_seeds"] == 2 and row["n_diverged"] == 1


def test_cells_are_per_selector_and_size():
    rows = [dict(learning_rate=1e-2, seed=0, metric_validation=0.5, metric_test=0.5, subset_size=s) for s in (0.01, 0.1)]
    rows.append(dict(learning_rate=1e-3, seed=0, metric_validation=0.5, metric_test=0.5, selector="bitfit",
                     subset_size=None, sel_fraction=0.001))
    summary = summarise(frame(rows))
    assert len(summary) == 3 and pd.isna(summary.loc[summary["selector"] == "bitfit", "subset_size"].iloc[0])


def test_runs_of_different_studies_are_never_pooled_as_seeds():
    studies = [dict(train_size=100), dict(train_size=200), dict(train_size=100, max_length=64)]
    configs = [RunConfig(task="sst2", selector="random", subset_size=0.01, learning_rate=lr, seed=seed, model="tiny-random",
                         **study) for study in studies for lr in (1e-3, 1e-2) for seed in (0, 1)]
    best = {100: 1e-3, 200: 1e-2}  # each study's own best rate; the other study's runs must not sway it
    rows = [config_row(c) | dict(status="ok", sel_fraction=0.01, metric_validation=0.9 if c.learning_rate == best[c.train_size] else 0.5,
                                 metric_test=c.train_size / 1000 + c.max_length / 1e5) for c in configs]
    summary = summarise(pd.DataFrame(rows))
    assert len(summary) == 3 and (summary["n_seeds"] == 2).all()
    for _, row in summary.iterrows():
        assert row["learning_rate"] == best[row["train_size"]]
        assert row["test_mean"] == pytest.approx(row["train_size"] / 1000 + row["max_length"] / 1e5)  # own runs only
    chosen = chosen_runs(summary, configs)
    assert len(chosen) == 6 and all(c.learning_rate == best[c.train_size] for c in chosen)


def test_a_cell_with_pending_runs_gets_no_rate_on_partial_seeds():
    configs = [RunConfig(task="sst2", selector="random", subset_size=0.01, learning_rate=lr, seed=seed, model="tiny-random")
               for lr in (1e-3, 1e-2) for seed in (0, 1)]
    stored = [config_row(c) | dict(status="ok", metric_validation=c.learning_rate, metric_test=0.5)
              for c in configs if c.seed == 0]
    row = summarise(pd.DataFrame(stored), configs).iloc[0]
    assert row["n_pending"] == 2 and math.isnan(row["learning_rate"]) and row["n_seeds"] == 0
    assert row["grid"] == [1e-3, 1e-2]
    complete = summarise(pd.DataFrame(stored), [c for c in configs if c.seed == 0]).iloc[0]
    assert complete["n_pending"] == 0 and complete["learning_rate"] == 1e-2


def test_paper_grids_are_one_two_five():
    rates = section_grid("subset_size", "paper").rates
    assert set(rates.values()) == {(1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1)}


def test_grid_counts_fixed_size_selectors_once():
    study = section_study("subset_size", "cpu", "sst2")
    configs = study.configs("local")
    flexible = sum(len(study.rates_for("random", size)) for size in study.subset_sizes) * len(study.seeds)
    fixed = (len(study.rates_for("bitfit", None)) + len(study.rates_for("full", None))) * len(study.seeds)
    assert len(configs) == flexible + fixed == len({c.run_id() for c in configs})
    assert {c.subset_size for c in configs if c.selector != "random"} == {None}


def test_overrides_from_papermill_strings():
    study = section_study("subset_size", "cpu", "trec6", selectors="random,full", subset_sizes="bitfit,0.01",
                          learning_rates="1e-3, 1e-2", seeds="0,1", train_size="all")
    assert study.selectors == ("random", "full") and study.subset_sizes == (None, 0.01)
    assert study.learning_rates == {"random": (1e-3, 1e-2), "full": (1e-3, 1e-2)}
    assert study.seeds == (0, 1) and study.train_size is None


def test_rates_per_selector_and_size():
    rates = {"random": [1e-2], "random@0.1": [1e-3, 2e-3], "random@bitfit": [5e-2]}
    study = section_study("subset_size", "cpu", "sst2", subset_sizes="bitfit,0.01,0.1", learning_rates=rates)
    assert study.rates_for("random", 0.01) == (1e-2,) and study.rates_for("random", 0.1) == (1e-3, 2e-3)
    assert study.rates_for("random", None) == (5e-2,)
    assert study.rates_for("full", None) == section_grid("subset_size", "cpu").rates["full"]
    configs = study.configs("local")
    assert {(c.subset_size, c.learning_rate) for c in configs if c.selector == "random"} == {
        (None, 5e-2), (0.01, 1e-2), (0.1, 1e-3), (0.1, 2e-3)}
    only_random = section_study("subset_size", "cpu", "sst2", learning_rates={"random": [1e-2]})
    assert only_random.rates_for("random", 1e-4) == (1e-2,)  # a variant's key drops its "variant@size" keys


def test_per_selector_rates_and_paper_epochs():
    study = section_study("subset_size", "paper", "qnli", learning_rates={"random": [0.1]})
    assert study.learning_rates["random"] == (0.1,) and len(study.learning_rates["full"]) == 13
    assert study.epochs == 2 and section_study("subset_size", "paper", "sst2").epochs == 4


def test_middle_rate_grid_keeps_one_rate_per_cell():
    study = section_study("subset_size", "cpu", "sst2", rate_grid="middle")
    assert study.rates_for("random", 0.01) == (1e-2,) and study.rates_for("full", None) == (1e-4,)
    assert len(study.configs("local")) == len(study.cells())


@pytest.mark.parametrize("kwargs,match", [
    (dict(profile="huge"), "unknown profile 'huge'"),
    (dict(selectors="random,magic"), "unknown selector 'magic'"),
    (dict(learning_rates=[]), "empty learning-rate grid"),
    (dict(subset_sizes=[]), "subset_sizes is empty"),
    (dict(seeds=[]), "empty grid"),
    (dict(subset_sizes="tiny"), "subset size 'tiny'"),
    (dict(subset_sizes=[2.0]), r"subset size 2.0 must be a fraction"),
    (dict(batch=3), r"unknown study settings \['batch'\]; allowed: \['batch_size'"),
    (dict(train_size="many"), "train_size 'many' must be a whole number of examples or 'all'"),
    (dict(rate_grid="some"), "rate_grid 'some' must be one of"),
])
def test_bad_study_settings(kwargs, match):
    kwargs = {"profile": "cpu", **kwargs}
    with pytest.raises(ValueError, match=match):
        section_study("subset_size", kwargs.pop("profile"), "sst2", **kwargs).configs("local")


def test_every_profile_builds():
    for name in PROFILES:
        assert section_study("subset_size", name, "sst2").configs("local")
