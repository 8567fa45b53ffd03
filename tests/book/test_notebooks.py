"""The notebooks run end to end under papermill, shrunk by the smoke profile."""
from __future__ import annotations

import json

import nbformat
import papermill
import pytest

from notebook_runner import NOTEBOOKS, run_smoke


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_parameters_cell_is_literals_under_their_comments(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    lines = cells[0].source.splitlines()
    for previous, line in zip([""] + lines, lines):
        assert len(line) <= 88, line  # fits the book's code column
        if not line.startswith("#"):
            assert previous.startswith("#") and "(" not in line, line  # a literal under its comment


def test_subset_size_notebook_smoke(tmp_path, study_data):
    output = tmp_path / "03.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "03_subset_size.ipynb"), str(output), cwd=str(tmp_path), progress_bar=False,
        parameters={"profile": "smoke", "data_dir": str(study_data), "results_dir": str(tmp_path / "results")},
    )
    executed = nbformat.read(output, as_version=4)
    outputs = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the figure
    assert len(list((tmp_path / "results" / "runs").glob("*.json"))) == 16  # the smoke grid
    footer = str(outputs[-1]["data"]["text/markdown"])
    assert footer.startswith("**Provenance.** This page ran profile **smoke**: 16 runs of tiny-random on sst2, seeds 0, 1; 16 ok")
    assert "all 16 computed while the page ran" in footer and "reused" not in footer


def test_subset_size_notebook_extends_edges(tmp_path, study_data):
    output = tmp_path / "03.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "03_subset_size.ipynb"), str(output), cwd=str(tmp_path), progress_bar=False,
        parameters={"profile": "smoke", "data_dir": str(study_data), "results_dir": str(tmp_path / "results"),
                    "executor": "serial",
                    "selectors": "bitfit", "seeds": "0", "learning_rates": "0.001", "extend_edges": True},
    )
    assert len(list((tmp_path / "results" / "runs").glob("*.json"))) > 1  # the one-value grid grew


def test_selection_strategies_notebook_smoke(tmp_path, study_data):
    outputs = run_smoke("01_selection_strategies.ipynb", tmp_path, study_data, tasks="sst2,conll03", train_size=16,
                        seeds="0")
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 3  # budget groups, layers, overlap
    statuses = [json.loads(p.read_text())["status"] for p in (tmp_path / "results" / "runs").glob("*.json")]
    assert len(statuses) == 2 * 10 and set(statuses) == {"ok"}  # 9 variants + the L1 run, per task
    text = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "diff_pruning_no_retrain" in text and "sst2: paper rank" in text


def test_learning_rate_notebook_smoke(tmp_path, study_data):
    outputs = run_smoke("02_learning_rate.ipynb", tmp_path, study_data, seeds="0", subset_sizes="1e-3,1e-2")
    assert any("image/png" in o.get("data", {}) for o in outputs)


def test_costs_notebook_runs_the_quick_benchmark(tmp_path, study_data):
    outputs = run_smoke("appendix_costs.ipynb", tmp_path, study_data, quick=True, threads=1)
    text = "".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "forward+backward floor" in text and "No finished runs" in text


def html_of(outputs: list) -> str:
    return "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)


def test_generality_notebook_smoke(tmp_path, study_data):
    outputs = run_smoke("04_generality.ipynb", tmp_path, study_data, secondary_tasks="conll03", train_size=16,
                        seeds="0", variants="full,random,bitfit,lora,diff_pruning_no_retrain,full+l1:0.01")
    html = html_of(outputs)
    assert "MLM diff: paper" in html and "<b>" in html  # Table 3 with the paper beside it and marks
    runs = [json.loads(p.read_text()) for p in (tmp_path / "results" / "runs").glob("*.json")]
    secondary = [r for r in runs if r["config"].get("init_from")]
    assert len(secondary) == 12 and {r["status"] for r in runs} == {"ok"}  # per primary variant: conll03 and its own sst2
    assert len(list((tmp_path / "results" / "probes" / "mlm").glob("*.json"))) == 7  # six variants + pretrained


def test_task_similarity_notebook_smoke(tmp_path, study_data):
    outputs = run_smoke("05_task_similarity.ipynb", tmp_path, study_data, train_size=16, seeds="0",
                        selectors="random", subset_sizes="1e-2")
    html = html_of(outputs)
    assert "conll03_de decoder" in html and "trec6 full: paper" in html


def test_lora_rank_notebook_smoke(tmp_path, study_data):
    outputs = run_smoke("06_lora_rank.ipynb", tmp_path, study_data, secondary_tasks="conll03", train_size=16,
                        seeds="0", ranks="1,4")
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1  # Fig. 6
    assert "share: paper" in html_of(outputs)


def test_regularization_notebook_smoke(tmp_path, study_data):
    outputs = run_smoke("07_regularization.ipynb", tmp_path, study_data, secondary_tasks="conll03", train_size=16,
                        seeds="0", coefficients="0.01,1")
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1
    assert "full+l2:1" in html_of(outputs)
