"""The paper's Tables 3 and 6-11 as transcribed: shapes, columns and values checked by hand."""
from __future__ import annotations

import pytest

from repro.report import paper_generality as pg

SHAPES = {  # accessor: (rows, index names, measures)
    "table3": (13, ["variant"], pg.TABLE3_MEASURES),
    "table6": (32, ["primary_task", "variant"], ("primary", "secondary_diff", "mlm")),
    "table7": (32, ["primary_task", "variant"], ("primary", "mlm", "conll03", "qnli", "sst2", "trec6")),
    "table8": (24, ["subset_size", "variant"],
               ("primary", "conll03_de decoder", "conll03_de full", "trec6 decoder", "trec6 full")),
    "table9": (6, ["variant"], ("conll03", "qnli", "sst2", "trec6")),
    "table10": (4, ["primary_task"], ("primary", "mlm", "conll03", "qnli", "sst2", "trec6")),
    "table11": (24, ["primary_task", "variant"], ("primary", "gap", "mlm", "conll03", "qnli", "sst2", "trec6")),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shape_and_column_scheme(name):
    rows, index, measures = SHAPES[name]
    frame = getattr(pg, name)()
    assert len(frame) == rows
    assert frame.index.names == index
    assert frame.index.is_unique
    columns = [f"{m} paper {kind}" for m in measures for kind in ("mean", "std")]
    assert [c for c in frame.columns if c.endswith((" paper mean", " paper std"))] == columns
    assert all(frame[c].dtype == float for c in columns)
    assert (frame[[c for c in columns if c.endswith("std")]] >= 0).all().all()
    assert getattr(pg, name).__doc__


def test_variant_names():
    assert list(pg.table3().index) == [
        "full", "full+l1:0.01", "full+l1:0.1", "full+l2:0.01", "full+l2:0.1", "lora", "random", "bitfit",
        "largest_pretrain_sqgrad", "largest_downstream_sqgrad", "combined", "diff_pruning",
        "diff_pruning_no_retrain"]
    assert set(pg.table11().index.get_level_values("variant")) == {
        f"full+{reg}:{c:g}" for reg in ("l1", "l2") for c in (0.01, 0.10, 1.00)}
    assert set(pg.table7().index.get_level_values("primary_task")) == set(pg.TASKS)


def _cell(frame, key, measure):
    row = frame.loc[key]
    return row[f"{measure} paper mean"], row[f"{measure} paper std"]


@pytest.mark.parametrize("name, key, measure, expected", [
    ("table3", "full", "mlm", (-0.0584, 0.0172)),
    ("table3", "full+l1:0.1", "gap", (0.0068, 0.0174)),
    ("table3", "full+l1:0.1", "secondary", (-0.0018, 0.0029)),  # printed in italics
    ("table3", "lora", "secondary", (-0.0271, 0.1153)),
    ("table3", "diff_pruning_no_retrain", "secondary_decoder", (0.0451, 0.1162)),
    ("table6", ("conll03", "full"), "primary", (0.9217, 0.0009)),
    ("table6", ("qnli", "bitfit"), "mlm", (0.2595, 0.0151)),
    ("table6", ("trec6", "diff_pruning_no_retrain"), "secondary_diff", (-0.0003, 0.0024)),
    ("table7", ("conll03", "diff_pruning"), "qnli", (0.9179, 0.0013)),
    ("table7", ("sst2", "random"), "conll03", (0.9142, 0.0029)),
    ("table7", ("trec6", "largest_pretrain_sqgrad"), "trec6", (0.9640, 0.0076)),
    ("table8", (0.0001, "random"), "conll03_de decoder", (0.3151, 0.0210)),
    ("table8", (0.001, "diff_pruning"), "primary", (0.8986, 0.0013)),
    ("table8", (0.01, "diff_pruning_no_retrain"), "conll03_de full", (0.8727, 0.0034)),
    ("table8", (0.1, "diff_pruning"), "trec6 decoder", (0.5536, 0.0417)),
    ("table8", (0.1, "random"), "trec6 full", (0.9656, 0.0055)),
    ("table9", "lora:1", "conll03", (0.9059, 0.0025)),
    ("table9", "lora:16", "sst2", (0.9404, 0.0054)),
    ("table9", "lora:64", "trec6", (0.9744, 0.0033)),
    ("table10", "sst2", "trec6", (0.8112, 0.3484)),
    ("table10", "qnli", "mlm", (0.3776, 0.0112)),
    ("table11", ("qnli", "full+l1:1"), "primary", (0.6640, 0.0005)),
    ("table11", ("conll03", "full+l2:0.01"), "gap", (-0.0704, 0.0009)),
    ("table11", ("trec6", "full+l1:1"), "mlm", (0.4434, 0.0017)),
    ("table11", ("sst2", "full+l2:0.1"), "qnli", (0.9269, 0.0021)),
])
def test_spot_values(name, key, measure, expected):
    assert _cell(getattr(pg, name)(), key, measure) == pytest.approx(expected, abs=1e-9)


def test_table9_rank_and_share():
    frame = pg.table9()
    assert list(frame["rank"]) == [1, 2, 3, 4, 16, 64]
    assert frame.loc["lora", "rank"] == 4
    assert frame["rank"].dtype.kind == "i"
    assert frame.loc["lora:1", "parameter share"] == pytest.approx(0.0003)
    assert frame.loc["lora:64", "parameter share"] == pytest.approx(0.0189)


def test_table8_baseline_and_subset_sizes():
    assert pg.TABLE8_GERMAN_BASELINE == (0.8724, 0.0023)
    sizes = pg.table8().index.get_level_values("subset_size")
    assert sorted(set(sizes)) == [0.0001, 0.001, 0.01, 0.1]
    assert sizes.dtype == float


def test_consistent_with_table1_means():
    """Tables 6, 7 and 9 repeat Table 1's primary means (their stds differ in the last digit)."""
    from repro.report.paper_table1 import TABLE1, TABLE1_TASKS
    t6, t7, t9 = pg.table6(), pg.table7(), pg.table9()
    for task_index, task in enumerate(TABLE1_TASKS):
        assert t9.loc["lora", f"{task} paper mean"] == TABLE1["lora"][task_index][0]
        for variant, scores in TABLE1.items():
            if variant != "lora":
                assert t6.loc[(task, variant), "primary paper mean"] == scores[task_index][0]
                assert t7.loc[(task, variant), "primary paper mean"] == scores[task_index][0]
