"""The notebooks run end to end under papermill, shrunk by the smoke profile."""
from __future__ import annotations

import json

import nbformat
import papermill
import pytest

from notebook_runner import NOTEBOOKS, run_smoke
from repro.runs.config import RunConfig
from repro.runs.store import RunResult


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


def test_costs_notebook_shows_the_committed_benchmark_outputs(tmp_path, study_data):
    outputs_dir, reference = tmp_path / "benchmarks", tmp_path / "reference"
    outputs_dir.mkdir()
    (outputs_dir / "run_phases.md").write_text(  # a run benchmark's per-run table; no step or estimate output
        "# Run phases\n\n| run | n | total s | training steps | overhead |\n|---|---:|---:|---:|---:|\n"
        "| sst2 bitfit | 1 | 20.0 | 80% | 20% |\n")
    (reference / "runs").mkdir(parents=True)
    config = RunConfig(task="sst2", selector="bitfit", subset_size=None, learning_rate=1e-3)
    (reference / "runs" / f"{config.run_id()}.json").write_text(
        json.dumps(RunResult(config, "ok", timings={"total_s": 1800.0}, selection={"seconds": 0.1}).to_dict()))
    outputs = run_smoke("appendix_costs.ipynb", tmp_path, study_data, benchmark_dir=str(outputs_dir),
                        reference_dir=str(reference))
    text = "".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "missed by 5 points" in html and "not measured: no file" in html  # the goals table
    assert "### Run phases" in text and "Not measured: there is no `speed.md`" in text
    assert text.startswith("Of issue 13's") and "1 run(s) took 0.5 hours of one worker (2.0 runs per hour)" in text
    assert "selection s" in html  # the reference's run in the selection costs
