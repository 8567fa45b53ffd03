"""Executes a notebook under papermill on the smoke profile (shared by the notebook tests)."""
from __future__ import annotations

from pathlib import Path

import nbformat
import papermill

from repro.report.parameters import declared_parameters

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_smoke(name: str, tmp_path, study_data, **parameters) -> list:
    """Execute a notebook on the smoke profile, serially (the profile, data and results folders,
    and the executor, where the notebook declares them: a page refuses parameters it does not declare); returns its outputs
    (none may be an error)."""
    output = tmp_path / name
    declared = declared_parameters(NOTEBOOKS / name)
    defaults = {"profile": "smoke", "data_dir": str(study_data), "results_dir": str(tmp_path / "results"),
                "executor": "serial"}  # the pages' default pool costs a process start per worker; 03's test keeps it
    papermill.execute_notebook(
        str(NOTEBOOKS / name), str(output), cwd=str(tmp_path), progress_bar=False,
        parameters={**{key: value for key, value in defaults.items() if key in declared}, **parameters},
    )
    executed = nbformat.read(output, as_version=4)
    outputs = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    return outputs
