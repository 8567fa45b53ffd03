"""scripts/clean_executed.py: stored notebooks lose progress bars, warnings and widgets, keep the rest."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "clean_executed.py"
spec = importlib.util.spec_from_file_location("clean_executed", SCRIPT)
clean = importlib.util.module_from_spec(spec)
spec.loader.exec_module(clean)

v4 = nbformat.v4


def executed_notebook():
    """What papermill leaves: a tqdm bar and a warning on stderr, a tqdm.auto widget, stdout, a
    table, and a cell that raised."""
    widget = {clean.WIDGET_MIME: {"model_id": "abc", "version_major": 2, "version_minor": 0},
              "text/plain": "runs:  50%|#####     | 1/2"}
    cells = [
        v4.new_markdown_cell("# Page"),
        v4.new_code_cell("run()", outputs=[
            v4.new_output("stream", name="stderr", text="runs:  50%|#####     | 1/2 [00:01<00:01]\r"),
            v4.new_output("stream", name="stdout", text="16 runs\n"),
            v4.new_output("stream", name="stderr", text="UserWarning: something\n"),
            v4.new_output("display_data", data=widget),
            v4.new_output("execute_result", data={"text/html": "<table></table>"}, execution_count=1),
        ]),
        v4.new_code_cell("1/0", outputs=[
            v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=["..."]),
        ]),
    ]
    notebook = v4.new_notebook(cells=cells)
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return notebook


def test_clean_drops_stderr_and_widgets_and_keeps_stdout_results_and_errors():
    notebook = executed_notebook()
    assert clean.clean_notebook(notebook) == 3
    run, raised = notebook.cells[1].outputs, notebook.cells[2].outputs
    assert [o.get("name", o.output_type) for o in run] == ["stdout", "execute_result"]
    assert [o.output_type for o in raised] == ["error"]
    assert "widgets" not in notebook.metadata


def test_clean_is_idempotent_on_a_clean_notebook():
    notebook = executed_notebook()
    clean.clean_notebook(notebook)
    assert clean.clean_notebook(notebook) == 0


def test_command_rewrites_the_file_and_refuses_a_missing_one(tmp_path):
    path = tmp_path / "page.ipynb"
    nbformat.write(executed_notebook(), path)
    done = subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True)
    assert done.returncode == 0 and "removed 3 stderr/widget output(s)" in done.stdout
    stored = path.read_text()
    assert "50%" not in stored and "UserWarning" not in stored and "ZeroDivisionError" in stored
    nbformat.validate(nbformat.read(path, as_version=4))
    missing = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "none.ipynb")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "no notebook at" in missing.stderr
