"""The section 3 tables as the book shows them: one format per quantity, the metric in the
header, seeds in their own column, the paper beside ours, keys first and no index column."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from repro.report.tables import (book_table, bitfit_size_table, format_mean_std, format_rate, format_share,
                                 results_table, selection_costs, selection_table)


def summary_rows(task: str = "sst2") -> pd.DataFrame:
    return pd.DataFrame({
        "task": [task] * 4, "selector": ["random", "random", "bitfit", "full"],
        "subset_size": [1e-3, np.nan, np.nan, np.nan], "fraction": [1e-3, 8.1234e-4, 8.1234e-4, 1.0],
        "grid": [[0.0011, 0.01, 0.1], [1e-3, 1e-2], [1e-3, 1e-2], [1e-5, 2.5e-5]], "learning_rate": [0.1, 0.01, 0.01, 2.5e-5],
        "at_edge": [True, True, True, False], "val_mean": [0.7, 0.75, 0.8, 0.9],
        "test_mean": [0.71, 0.76, 0.81, 0.91234], "test_std": [0.01, 0.02, np.nan, 0.0123],
        "n_seeds": [2, 2, 1, 2], "n_diverged": [0, 0, 1, 0], "n_failed": [0, 0, 0, 0], "n_pending": [0, 0, 0, 0]})


def test_one_format_per_quantity():
    assert format_mean_std(0.91234, 0.00123) == "0.912 ± 0.001"
    assert format_mean_std(0.91234, float("nan")) == "0.912"  # one seed: no spread
    assert format_mean_std(float("nan"), float("nan")) == ""
    assert [format_rate(r) for r in (0.0011, 1.14e-3, 1e-3, 0.1, 2.5e-5, float("nan"))] == [
        "1.1e-3", "1.14e-3", "1e-3", "1e-1", "2.5e-5", ""]
    assert [format_share(f) for f in (8.1234e-4, 1e-4, 1.0, float("nan"))] == ["0.0812%", "0.01%", "100%", ""]


def test_results_table_names_the_metric_and_keeps_seeds_paper_and_rates_apart():
    table = results_table(summary_rows())
    assert list(table.columns) == [
        "variant", "subset size (% of encoder)", "test accuracy (mean ± std)", "n", "paper, Table 1 (roberta-base, 5 seeds)",
        "validation accuracy (mean)", "learning rate (chosen)", "rates tried", "at edge", "runs diverged/failed"]
    assert isinstance(table.index, pd.RangeIndex)  # keys are columns, one task: no task column
    full = table[table["variant"] == "full"].iloc[0]
    assert full["test accuracy (mean ± std)"] == "0.912 ± 0.012" and full["n"] == 2
    assert full["paper, Table 1 (roberta-base, 5 seeds)"] == "0.947 ± 0.001"
    assert full["learning rate (chosen)"] == "2.5e-5" and full["rates tried"] == "1e-5, 2.5e-5"
    random = table[table["variant"] == "random"]
    assert list(random["at edge"]) == ["yes", "yes (cap)"] and list(random["subset size (% of encoder)"]) == ["0.0812%", "0.1%"]
    assert list(random["paper, Table 1 (roberta-base, 5 seeds)"]) == ["0.934 ± 0.003", ""]  # Table 1: BitFit's size only
    assert random["rates tried"].iloc[1] == "1.1e-3, 1e-2, 1e-1"
    assert table.loc[table["variant"] == "bitfit", "runs diverged/failed"].item() == "1/0"
    cells = " ".join(table.astype(str).to_numpy().ravel())
    assert "(n=" not in cells and not re.search(r"\de-0\d", cells)  # no "(n=1)", no "1.14e-03"


def test_results_table_of_several_tasks_and_pending_runs():
    both = pd.concat([summary_rows("sst2"), summary_rows("conll03_de").assign(n_pending=[0, 0, 0, 3])])
    table = results_table(both)
    assert list(table.columns[:3]) == ["task", "variant", "subset size (% of encoder)"]
    assert "test score (mean ± std)" in table and "runs diverged/failed/pending" in table
    assert set(table["task"]) == {"sst2: accuracy", "conll03_de: F1 (entity)"}
    assert "paper, Table 1 (roberta-base, 5 seeds)" in table  # sst2 has Table 1 values, conll03_de none
    assert (table.loc[table["task"].str.startswith("conll03_de"), "paper, Table 1 (roberta-base, 5 seeds)"] == "").all()


def test_bitfit_size_table_puts_the_paper_beside_ours():
    table = bitfit_size_table(summary_rows(), "sst2")
    assert list(table.columns) == ["variant", "subset size (% of encoder)", "test accuracy (mean ± std)", "n",
                                   "paper (roberta-base, 5 seeds)"]
    assert list(table["variant"]) == ["random", "bitfit", "full"]  # the BitFit-sized rows only
    assert list(table["paper (roberta-base, 5 seeds)"]) == ["0.934 ± 0.003", "0.938 ± 0.003", "0.947 ± 0.001"]
    assert list(bitfit_size_table(summary_rows("conll03_de"), "conll03_de")["paper (roberta-base, 5 seeds)"]) == [""] * 3


def test_selection_table_ranks_beside_the_papers_with_seeds_in_their_own_column():
    rows = pd.concat([summary_rows("sst2"), summary_rows("trec6").assign(n_seeds=[1, 1, 1, 1])])
    rows = rows[rows["subset_size"].isna()]
    table = selection_table(rows, ["sst2", "trec6"])
    assert list(table.columns[:6]) == ["variant", "n", "sst2: test accuracy", "sst2: rank", "sst2: paper", "sst2: paper rank"]
    assert list(table["variant"]) == ["random", "bitfit", "full"]
    assert list(table["n"]) == ["sst2 2, trec6 1", "1", "sst2 2, trec6 1"]  # one number when the tasks agree
    assert list(table["sst2: rank"]) == ["3", "2", "1"] and list(table["sst2: paper rank"]) == ["3", "2", "1"]
    assert table["mean rank: paper"].iloc[0] == "2.5"  # random: 3 on sst2, 2 on trec6 among these three


def test_book_table_shows_keys_first_and_no_index_column():
    costs = pd.DataFrame({"k": [1200.0, 3.0], "training s": [5.25, 6.0]},
                         index=pd.Index(["random", "bitfit"], name="variant"))
    html = book_table(costs, caption="What it cost").to_html()
    header = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    assert header.count("<tr>") == 1 and re.findall(r"<th[^>]*>([^<]*)</th>", header) == ["variant", "k", "training s"]
    assert "row_heading" not in html and "What it cost" in html
    assert ">1,200<" in html and ">5.2<" in html and ">6.0<" in html  # whole numbers, then one decimal per column
    plain = book_table(pd.DataFrame({"a": ["<b>x</b>"]})).to_html()
    assert "<b>x</b>" in plain and ">0<" not in plain  # HTML kept, a default index dropped
    labelled = book_table(pd.DataFrame({"share": ["1%"]}, index=["bitfit"])).to_html()
    assert ">bitfit<" in labelled  # an unnamed index of labels is kept as a column


def test_selection_costs_keep_the_first_computation_of_ok_runs():
    frame = pd.DataFrame({"selector": ["random", "random", "bitfit"], "status": ["ok", "ok", "failed"],
                          "sel_seconds": [3.0, 0.1, 9.0], "time_train_s": [5.0, 6.0, 1.0]})
    costs = selection_costs(frame)
    assert list(costs.index) == ["random"] and costs.index.name == "variant"
    assert costs.loc["random", "selection s"] == 3.0 and costs.loc["random", "training s"] == 6.0
    assert selection_costs(pd.DataFrame()).empty
