"""The pieces every book page shares: settings table, data notes, the closing provenance line,
the generality tables beside the paper and the sentences written from results (the section 3
tables: test_tables.py)."""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from repro.report.beside_paper import beside_paper, paper_values, secondary_columns
from repro.report.findings import (learning_rate_statements, pretrained_mlm, regularization_trends,
                                   similarity_statement)
from repro.report.page import Page, commit, machine, reuse_text, run_ids
from repro.report.parameters import check_parameters, declared_parameters
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
    assert line.startswith("**Provenance.** This page ran profile **smoke**: 4 runs of tiny-random on sst2, "
                           "seeds 0, 1, 2, 3; 2 ok, 1 diverged, 1 failed; 3 computed while the page ran, 1 reused "
                           "from results stored before it started. Commit ")
    assert re.search(r"Commit (`[0-9a-f]{12}`( with uncommitted changes)?|unknown \(not a git checkout\)), "
                     r"\d{4}-\d\d-\d\d \d\d:\d\d UTC, CPU .+ \(\d+ cores\); \d+\.\d minutes\.$", line)
    assert page.footer(note="Probes too.").endswith("Probes too.")


def test_footer_says_reused_only_of_runs_that_were(tmp_path):
    """All fresh: no reuse is named (the line once said '0 of them reused'); all stored before: all reused."""
    page = Page.start("subset_size", "smoke", tmp_path / "results", tmp_path)
    runs = [config(0), config(1)]
    for run in runs:
        store(page, run)
    fresh = page.footer(runs)
    assert "all 2 computed while the page ran" in fresh and "reused" not in fresh and "seeds 0, 1;" in fresh
    again = Page.start("subset_size", "smoke", tmp_path / "results", tmp_path).footer(runs)
    assert "all 2 reused from results stored before the page started" in again and "computed" not in again
    assert reuse_text(3, 1) == "2 computed while the page ran, 1 reused from results stored before it started"
    assert reuse_text(3, 0, 3) == "all 3 read from the reference store"
    assert reuse_text(4, 1, 2) == ("1 computed while the page ran, 1 reused from results stored before it started, "
                                   "2 read from the reference store")


def test_footer_counts_runs_read_from_the_reference_store(tmp_path):
    """A page that only reads the reference names those runs (it once said 'no runs')."""
    from repro.runs.reference import export

    runs = [config(0), config(1)]
    writer = Page.start("subset_size", "smoke", tmp_path / "made", tmp_path)
    for run in runs:
        store(writer, run)
    export(tmp_path / "made", tmp_path / "reference")
    page = Page.start("subset_size", "smoke", tmp_path / "results", tmp_path, retrain=False,
                      reference_dir=tmp_path / "reference")
    line = page.footer(runs)
    assert "2 runs of" in line and "all 2 read from the reference store" in line and "computed" not in line


def test_footer_names_runs_that_started_from_weights_re_made_with_another_result(tmp_path):
    """A secondary run made on the CPU model that re-made its primary with another result says
    so; one made on the CPU model of the stored primary does not."""
    from dataclasses import replace

    from repro.runs.reference import export

    primary = config(0)
    here, there = {"cpu": "Here CPU"}, {"cpu": "There CPU"}
    secondaries = [replace(config(0, task="trec6"), init_from=primary.run_id()),
                   replace(config(1, task="trec6"), init_from=primary.run_id())]
    made = Page.start("subset_size", "smoke", tmp_path / "made", tmp_path).workspace.store
    made.write(RunResult(primary, "ok", metrics={"test": 0.5}, environment=there))
    export(tmp_path / "made", tmp_path / "reference")
    again = Page.start("subset_size", "smoke", tmp_path / "again", tmp_path).workspace.store
    again.write(RunResult(primary, "ok", metrics={"test": 0.6}, environment=here))  # re-made for its weights
    again.write(RunResult(secondaries[0], "ok", metrics={"test": 0.7}, environment=here))
    again.write(RunResult(secondaries[1], "ok", metrics={"test": 0.7}, environment=there))
    assert export(tmp_path / "again", tmp_path / "reference").remade
    page = Page.start("subset_size", "smoke", tmp_path / "results", tmp_path, retrain=False,
                      reference_dir=tmp_path / "reference")
    line = page.footer([primary] + secondaries)
    assert ("1 of them started from the tuned weights of a stored run made again on the CPU model they ran on, "
            "whose scores differ from its record (reference/remade/).") in line
    assert "started from" not in page.footer([primary, secondaries[1]])


def test_a_result_written_again_within_one_clock_tick_is_not_reused(tmp_path):
    """Coarse file-system clocks: the rewrite keeps the old modification time, but is a new file."""
    run = config(0)
    store(Page.start("subset_size", "smoke", tmp_path / "results", tmp_path), run)
    page = Page.start("subset_size", "smoke", tmp_path / "results", tmp_path)
    path = page.workspace.store.path_for(run)
    before = path.stat().st_mtime_ns
    store(page, run)
    os.utime(path, ns=(before, before))
    assert "all 1 computed while the page ran" in page.footer([run])


def test_footer_without_runs_or_profile(tmp_path):
    line = Page.start(None, None, tmp_path / "empty", tmp_path).footer()
    assert line.startswith("**Provenance.** This page ran: no runs. Commit ") and "reused" not in line


def test_machine_names_the_cpu_and_its_cores_or_the_gpu(monkeypatch):
    assert re.fullmatch(r"CPU .+ \(\d+ cores\)", machine("cpu"))
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.get_device_name", lambda device: "NVIDIA H200")
    assert machine("cuda") == "GPU NVIDIA H200"


def test_commit_of_a_checkout_or_unknown(monkeypatch):
    assert re.fullmatch(r"`[0-9a-f]{12}`( with uncommitted changes)?|unknown \(not a git checkout\)", commit())

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")
    monkeypatch.setattr("subprocess.run", no_git)
    assert commit() == "unknown (not a git checkout)"


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
    assert [markdown.data[:32] for markdown in shown] == ["**Provenance.** This page ran pr"]  # shown first


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
    assert table["tasks"].startswith("sst2 (test: GLUE dev")
    assert re.fullmatch(r"sst2: local data folder, fingerprint [0-9a-f]{16}", table["data"])  # no machine path
    assert table["subset sizes"] == "0.001, BitFit's share; bitfit: their own size"
    assert table["learning-rate grids"] == "random: 0.01, 0.1; bitfit: 0.01, 0.1"
    assert table["runs"] == 2 * 2 * 2 + 2 * 2  # random at two sizes, bitfit once; two rates, two seeds
    assert table["learning rates"].startswith("chosen on validation")
    assert "True" in table["extend edges"] and table["Table 10"] == "rank 4"
    assert list(table.index[-2:]) == ["executor", "device"] and table["executor"] == "local: 3 processes"
    assert re.fullmatch(r"cpu \(CPU .+ \(\d+ cores\)\)", table["device"])
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
    assert "<b>0.900</b>" in html and "<i>0.800</i>" in html
    assert "trec6 full: paper" in html and "primary: paper" in html
    header = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    assert header.count("<tr>") == 1 and re.findall(r"<th[^>]*>([^<]*)</th>", header)[:3] == ["subset_size", "variant", "n"]
    assert "index_name" not in html and "row_heading" not in html  # keys are columns: no index column or row


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


def test_page_source_reads_the_reference_and_trains_nothing_on_its_profile(tmp_path):
    from repro.report.page import page_source

    empty, held = tmp_path / "empty", tmp_path / "held"
    empty.mkdir()
    (held / "runs").mkdir(parents=True)
    (held / "runs" / "0123456789abcdef.json").write_text("{}")
    assert page_source(None, None, held) == ("reference", held, False)  # the book's default: read, train nothing
    assert page_source("cpu", None, held) == ("cpu", held, True)  # another profile trains what neither store holds
    assert page_source("smoke", False, held) == ("smoke", held, False)  # False: show what is stored, train nothing
    assert page_source(None, True, held) == ("cpu", None, True)  # retrain: the reference is not read
    assert page_source("reference", True, held) == ("reference", None, True)  # recompute the reference grid
    assert page_source(None, None, empty) == ("cpu", None, True)  # no reference records: train the cpu grid
    assert page_source("reference", "missing", held) == ("reference", held, True)  # extend the reference
    assert page_source(None, "missing", held) == ("reference", held, True)
    with pytest.raises(ValueError, match="retrain 'yes' must be None"):
        page_source(None, "yes", held)
