"""The pieces every book page shares: settings table, data notes, the closing provenance line,
the tables beside the paper and the sentences written from results."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from repro.report.beside_paper import beside_paper, paper_values, secondary_columns
from repro.report.findings import (learning_rate_statements, pretrained_mlm, regularization_trends,
                                   similarity_statement)
from repro.report.page import Page, run_ids
from repro.report.parameters import check_parameters, declared_parameters
from repro.report.tables import bitfit_size_table, format_mean_std, results_table, selection_costs
from repro.generality.mlm_probe import section_probe
from repro.runs.config import RunConfig
from repro.runs.grid_files import section_grid
from repro.runs.store import RunResult
from repro.runs.study import Study, middle_rates


def config(seed: int = 0, task: str = "sst2", selector: str = "random", **fields) -> RunConfig:
    size = None if selector in ("bitfit", "full") else 1e-3
    return RunConfig(task=task, selector=selector, learning_rate=1e-2, seed=seed, model="tiny-random",
                     subset_size=size, **fields)


def study(task: str = "sst2", selectors=("random", "bitfit"), epochs: int = 1) -> Study:
    return Study(model="tiny-random", task=task, selectors=tuple(selectors), subset_sizes=(1e-3, None),
                 learning_rates={s: (1e-2, 1e-1) for s in ("random", "bitfit", "combined", "diff_pruning")},
                 seeds=(0, 1), epochs=epochs, train_size=None, val_size=8, max_length=32)


def store(page: Page, run: RunConfig, status: str = "ok") -> None:
    page.workspace.store.write(RunResult(run, status, metrics={"test": 0.5}, reason=None if status != "failed" else "x"))


# --- the closing line --------------------------------------------------------------------------

def test_footer_counts_statuses_and_only_untouched_older_runs_as_reused(tmp_path):
    before = Page.start("subset_size", "smoke", tmp_path / "results", tmp_path)
    kept, retried, new, unnamed = config(0), config(1), config(2), config(3)
    store(before, kept)
    store(before, retried, "failed")
    page = Page.start("subset_size", "smoke", tmp_path / "results", tmp_path)
    os.utime(page.workspace.store.path_for(retried), ns=(1, 1))  # rewritten since the page started
    store(page, new, "diverged")
    store(page, unnamed)  # written by the page, so its own although not named
    line = page.footer([kept, retried, new])
    assert line.startswith("This page ran profile **smoke**: 4 runs of tiny-random on sst2, 4 seed(s); ")
    assert "2 ok, 1 diverged, 1 failed; 1 of them reused from the results folder;" in line
    assert line.endswith(f"minutes on {page.workspace.device}.")
    assert page.footer(note="Probes too.").endswith("Probes too.")


def test_footer_without_runs_or_profile(tmp_path):
    line = Page.start(None, None, tmp_path / "empty", tmp_path).footer()
    assert line.startswith("This page ran: no runs; ") and "reused" not in line


@pytest.mark.parametrize("statuses, raises", [
    (("ok", "diverged"), None),
    (("ok", "failed"), r"1 of this page's 2 runs failed, so it is not published.*\n"
                       r"failed: run [0-9a-f]{16} \(random, sst2, lr 0\.01, seed 1\): x"),
    (("failed", "failed"), r"2 of this page's 2 runs failed"),
    (("diverged", "diverged"), r"none of this page's 2 runs finished ok \(all diverged\)"),
    ((), None),  # a page without runs (the costs appendix)
])
def test_finish_shows_the_closing_line_then_raises_when_a_run_failed(tmp_path, monkeypatch, statuses, raises):
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    page = Page.start("subset_size", "smoke", tmp_path / "results", tmp_path)
    runs = [config(seed) for seed in range(len(statuses))]
    for run, status in zip(runs, statuses):
        store(page, run, status)
    if raises is None:
        page.finish(runs)
    else:
        with pytest.raises(RuntimeError, match=raises):
            page.finish(runs)
    assert [markdown.data[:13] for markdown in shown] == ["This page ran"]  # shown first, whatever follows


def test_papermill_parameters_the_notebook_does_not_declare_are_refused():
    declared = 'profile = "cpu"  # the size\nseeds: str | None = None  # e.g. "0,1"'
    history = ["", "import os", declared, '# Parameters\nprofile = "smoke"\nlr = 0.001\n', "page = Page.start(...)"]
    with pytest.raises(ValueError, match=r"unknown notebook parameter\(s\) \['lr'\]: this notebook's parameters are "
                                         r"\['profile', 'seeds'\]"):
        check_parameters(history)
    check_parameters(history[:3])  # not run by papermill, or without parameters: nothing injected
    check_parameters([*history[:3], '# Parameters\nseeds = "0,1"\nPAPERMILL_INPUT_PATH = "in.ipynb"\n'])


def test_declared_parameters_are_those_the_parameters_cell_assigns():
    notebooks = Path(__file__).resolve().parents[2] / "notebooks"
    declared = declared_parameters(notebooks / "03_subset_size.ipynb")
    assert {"profile", "data_dir", "results_dir", "executor", "seeds"} <= declared  # executor's comment holds '='
    assert not declared & {"Page", "page", "plt", "study"}  # names of the other cells
    assert "profile" not in declared_parameters(notebooks / "appendix_costs.ipynb")


def test_a_papermill_run_with_an_unknown_parameter_stops_at_the_page_start(tmp_path):
    """End to end in a kernel: the page's start reads the injected cell from IPython's history."""
    import nbformat
    import papermill

    cells = [nbformat.v4.new_code_cell("from repro.report.page import Page"),
             nbformat.v4.new_code_cell("results_dir = 'results'  # where results go"),
             nbformat.v4.new_code_cell("page = Page.start(None, None, results_dir)")]
    cells[1].metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                              "display_name": "Python 3"}})
    nbformat.write(notebook, tmp_path / "page.ipynb")
    run = dict(input_path=str(tmp_path / "page.ipynb"), output_path=str(tmp_path / "out.ipynb"), cwd=str(tmp_path),
               progress_bar=False)
    papermill.execute_notebook(**run, parameters={"results_dir": str(tmp_path / "results")})
    with pytest.raises(papermill.PapermillExecutionError, match=r"unknown notebook parameter\(s\) \['lr'\]"):
        papermill.execute_notebook(**run, parameters={"results_dir": str(tmp_path / "results"), "lr": 1e-3})


def test_run_ids_of_configs_bases_and_assess_rows():
    first, second = config(0), config(1)
    assert run_ids([first]) == {first.run_id()}
    assert run_ids({"sst2": {0: first, 1: second}}) == {first.run_id(), second.run_id()}
    rows = pd.DataFrame({"run_id": [first.run_id(), first.run_id()], "secondary_run_id": [second.run_id(), None]})
    assert run_ids(rows) == {first.run_id(), second.run_id()}


# --- the settings table ------------------------------------------------------------------------

def test_settings_table_states_the_grid_and_only_the_settings_that_apply(tmp_path, study_data):
    page = Page.start("subset_size", "smoke", tmp_path / "results", study_data, executor="local:workers=3")
    table = page.settings(study(), extend_edges=True, extra={"Table 10": "rank 4"}).data["setting"]
    assert table["profile"] == "smoke" and table["model"] == "tiny-random"
    assert table["tasks"].startswith("sst2 (test: GLUE dev") and table["data"]
    assert table["subset sizes"] == "0.001, BitFit's share; bitfit: their own size"
    assert table["learning-rate grids"] == "random: 0.01, 0.1; bitfit: 0.01, 0.1"
    assert table["runs"] == 2 * 2 * 2 + 2 * 2  # random at two sizes, bitfit once; two rates, two seeds
    assert table["learning rates"].startswith("chosen on validation")
    assert "True" in table["extend edges"] and table["Table 10"] == "rank 4"
    assert list(table.index[-2:]) == ["executor", "device"] and table["executor"] == "local: 3 processes"
    assert not any(row.startswith(("downstream", "pretraining", "diff pruning", "secondary", "MLM")) for row in table.index)


def test_settings_table_per_task_values_and_method_rows(tmp_path, study_data):
    page = Page.start("generality", "smoke", tmp_path / "results", study_data)
    studies = {"sst2": middle_rates(study("sst2", ("combined", "diff_pruning"))),
               "trec6": middle_rates(study("trec6", ("combined", "diff_pruning"), 2))}
    probe = section_probe("generality", "smoke")
    table = page.settings(studies, extend_edges=False, secondary_tasks=["trec6"], probe=probe).data["setting"]
    assert table["epochs"] == "sst2: 1; trec6: 2" and table["seeds"] == "0, 1"
    assert table["tasks"].startswith("sst2 (test: ") and ", trec6 (test: " in table["tasks"]
    assert "not tuned" in table["learning rates"]
    assert {"downstream Fisher N", "pretraining Fisher N (WikiText-2 sequences)"} <= set(table.index)
    assert any(row.startswith("diff pruning") for row in table.index)
    assert table["secondary tasks"] == "trec6" and "secondary learning rate" in table
    assert table["MLM probe"].startswith("train on 8 WikiText-2 validation sequences, score on 4")


def test_page_resolves_parameters_against_its_grid(tmp_path):
    page = Page.start("generality", "smoke", tmp_path / "results", tmp_path)
    grid = section_grid("generality", "smoke")
    assert page.profile == "smoke" and page.tasks() == list(grid.tasks) and page.tasks("sst2, conll03") == ["sst2", "conll03"]
    assert page.secondary_tasks() == list(grid.secondary_tasks) and page.secondary_tasks(["qnli"]) == ["qnli"]
    assert page.extend_edges() is grid.extend_edges and page.extend_edges(True) is True
    studies = page.studies(["sst2", "trec6"], seeds="0", selectors=None)
    assert list(studies) == ["sst2", "trec6"] and studies["trec6"].seeds == (0,)
    assert studies["sst2"].selectors == grid.study("sst2").selectors
    with pytest.raises(ValueError, match="tasks"):
        page.tasks(3.5j)
    with pytest.raises(ValueError, match="unknown setting 'partitio' for slurm"):
        Page.start("generality", "smoke", tmp_path / "results", tmp_path, "slurm:partitio=debug")


def test_data_notes_name_their_task(tmp_path, study_data):
    page = Page.start(None, None, tmp_path / "results", study_data)
    assert page.data_notes(["sst2"]) == ""
    notes = page.data_notes(["conll03_de", "sst2", "conll03_de"])
    assert notes.startswith("**Data note (conll03_de).**") and notes.count("Data note") == 1


# --- tables ------------------------------------------------------------------------------------

def summary_rows() -> pd.DataFrame:
    return pd.DataFrame({
        "task": ["sst2", "sst2", "sst2"], "selector": ["random", "bitfit", "full"],
        "subset_size": [1e-3, np.nan, np.nan], "fraction": [1e-3, 8e-4, 1.0], "grid": [[0.01, 0.1]] * 3,
        "learning_rate": [0.1, 0.01, 0.01], "at_edge": [True, True, False], "val_mean": [0.7, 0.8, 0.9],
        "test_mean": [0.71, 0.81, 0.91], "test_std": [0.01, np.nan, 0.02], "n_seeds": [2, 1, 2],
        "n_diverged": [0, 1, 0], "n_failed": [0, 0, 0]})


def test_format_mean_std():
    assert format_mean_std(0.91234, 0.00123, 5) == "0.9123 ± 0.0012 (n=5)"
    assert format_mean_std(0.91234, float("nan"), 1) == "0.9123 (n=1)"
    assert format_mean_std(float("nan"), float("nan"), 0) == "n/a"


def test_results_table_one_row_per_cell_with_the_edge_and_the_cap():
    table = results_table(summary_rows())
    assert table.index.names == ["task", "variant", "subset size"]
    assert table.loc[("sst2", "random", "1.00e-03"), "at edge"] == "yes (cap)"
    assert table.loc[("sst2", "bitfit", "8.00e-04"), "at edge"] == "yes"
    assert table.loc[("sst2", "bitfit", "8.00e-04"), "diverged/failed"] == "1/0"
    assert table.loc[("sst2", "full", "1.00e+00"), "test"] == "0.9100 ± 0.0200 (n=2)"


def test_bitfit_size_table_puts_the_paper_beside_ours():
    table = bitfit_size_table(summary_rows(), "sst2")
    assert list(table.columns) == ["subset size", "mean", "std", "n", "paper mean", "paper std"]
    assert list(table.index) == ["bitfit", "full"]  # the BitFit-sized rows only
    assert table.loc["full", "paper mean"] == 0.9468
    assert bitfit_size_table(summary_rows(), "conll03_de")["paper mean"].isna().all()


def test_selection_costs_keep_the_first_computation_of_ok_runs():
    frame = pd.DataFrame({"selector": ["random", "random", "bitfit"], "status": ["ok", "ok", "failed"],
                          "sel_seconds": [3.0, 0.1, 9.0], "time_train_s": [5.0, 6.0, 1.0]})
    costs = selection_costs(frame)
    assert list(costs.index) == ["random"] and costs.index.name == "variant"
    assert costs.loc["random", "selection s"] == 3.0 and costs.loc["random", "training s"] == 6.0
    assert selection_costs(pd.DataFrame()).empty


# --- beside the paper ---------------------------------------------------------------------------

def test_paper_values_use_our_measure_and_index_names():
    assert "primary_diff paper mean" in paper_values(3) and "secondary_decoder_diff paper std" in paper_values(3)
    table6 = paper_values(6)
    assert table6.index.names == ["task", "variant"] and "secondary_full_diff paper mean" in table6
    assert table6.loc[("conll03", "full"), "primary_test paper mean"] == 0.9217
    assert "parameter share" in paper_values(9)
    with pytest.raises(ValueError, match="no generality table 4"):
        paper_values(4)


def assess_rows() -> pd.DataFrame:
    rows = []
    for variant, score in (("full", 0.9), ("random", 0.8)):
        for task, offset in (("trec6", 0.0), ("conll03_de", -0.3)):
            rows.append(dict(task="conll03", variant=variant, subset_size=1e-3, run_id=f"{variant}0", status="ok",
                             primary_test=score, secondary_task=task, secondary_full=score + offset,
                             secondary_decoder=score + offset - 0.1))
    return pd.DataFrame(rows)


def test_secondary_columns_task_by_task():
    one = secondary_columns(assess_rows(), ["variant"], ("secondary_full",))
    assert list(one.columns) == [f"{t} {k}" for t in ("conll03_de", "trec6") for k in ("mean", "std", "n")]
    two = secondary_columns(assess_rows(), ["variant"], ("secondary_decoder", "secondary_full"))
    assert [c for c in two.columns if c.endswith(" mean")] == [
        "conll03_de decoder mean", "conll03_de full mean", "trec6 decoder mean", "trec6 full mean"]


def test_beside_paper_marks_the_best_and_shows_the_paper():
    table, html = beside_paper(assess_rows(), ["subset_size", "variant"], ("primary_test",), 8,
                               secondary=("secondary_decoder", "secondary_full"), mark_within="subset_size")
    assert math.isclose(table.loc[(1e-3, "random"), "trec6 full mean"], 0.8)
    assert "<b>0.9000</b>" in html and "<i>0.8000</i>" in html
    assert "trec6 full: paper" in html and "primary: paper" in html


# --- sentences ------------------------------------------------------------------------------------

def test_learning_rate_statements():
    summary = pd.DataFrame({"fraction": [1e-3, 1e-2, 1e-3, 1e-2], "learning_rate": [0.1, 0.01, 0.01, 0.01],
                            "selector": ["random", "random", "largest_downstream_sqgrad", "largest_downstream_sqgrad"]})
    text = learning_rate_statements(summary, ["random"])
    assert "higher than the downstream sq-grad subset's at 1 of 2 subset sizes" in text
    assert "random: chosen rate never rises" in text
    assert learning_rate_statements(summary.iloc[:1], ["random"]) == "Too few sizes for a comparison."


def test_pretrained_mlm_and_similarity():
    assert pretrained_mlm(pd.DataFrame({"mlm": [np.nan, 0.3], "mlm_diff": [np.nan, -0.1]})) == pytest.approx(0.4)
    assert math.isnan(pretrained_mlm(pd.DataFrame({"run_id": ["a"]})))
    table = pd.DataFrame({"trec6 full mean": [0.5, 0.9]})
    text = similarity_statement(table, pd.DataFrame({"task": ["trec6"], "test_mean": [0.8]}), ("trec6", "qnli"))
    assert "**trec6**: 1 of 2 tuned encoders end below" in text and "qnli" not in text.split("\n\n")[1]


def test_regularization_trends_from_the_smallest_to_the_largest_coefficient():
    index = pd.MultiIndex.from_tuples([("sst2", v) for v in ("full", "full+l1:1", "full+l1:0.01", "full+l2:0.1")],
                                      names=["task", "variant"])
    table = pd.DataFrame({"primary_test mean": [0.9, 0.5, 0.8, 0.9], "gap mean": [-0.1, 0.0, -0.05, -0.1],
                          "mlm mean": [0.2, 0.4, 0.3, 0.2]}, index=index)
    text = regularization_trends(table)
    assert "**sst2, L1** from 0.01 to 1: primary 0.8000 → 0.5000" in text
    assert "L2**" not in text  # one L2 coefficient: no trend
