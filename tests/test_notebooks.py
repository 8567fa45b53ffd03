"""The notebooks run end to end under papermill, shrunk by the smoke profile."""
from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_parameters_cell_is_literals_with_comments():
    notebook = nbformat.read(NOTEBOOKS / "03_subset_size.ipynb", as_version=4)
    cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    for line in cells[0].source.splitlines():
        assert "#" in line and "(" not in line.split("#")[0], line


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


def test_subset_size_notebook_extends_edges(tmp_path, study_data):
    output = tmp_path / "03.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "03_subset_size.ipynb"), str(output), cwd=str(tmp_path), progress_bar=False,
        parameters={"profile": "smoke", "data_dir": str(study_data), "results_dir": str(tmp_path / "results"),
                    "selectors": "bitfit", "seeds": "0", "learning_rates": "0.001", "extend_edges": True},
    )
    assert len(list((tmp_path / "results" / "runs").glob("*.json"))) > 1  # the one-value grid grew
