"""Strip what a stored executed notebook must not keep: progress bars and warnings.

Usage: python scripts/clean_executed.py NOTEBOOK.ipynb [...]   (rewrites each file in place)

Removes every stream output written to stderr (tqdm's bars, Python and library warnings) and every
widget output (a tqdm.auto bar or any ipywidget, which needs a live kernel anyway), and the
notebook's saved widget state. Keeps stdout, results, figures and error outputs: a notebook that
raised still shows why. scripts/run_notebooks.sh runs this after papermill.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def keep_output(output: dict) -> bool:
    """False for a stderr stream or a widget output; True for everything else."""
    if output.get("output_type") == "stream":
        return output.get("name") != "stderr"
    return WIDGET_MIME not in output.get("data", {})


def clean_notebook(notebook) -> int:
    """Drop stderr and widget outputs (and the widget state) in place; returns how many outputs went."""
    removed = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = [output for output in cell.outputs if keep_output(output)]
        removed += len(cell.outputs) - len(kept)
        cell.outputs = kept
    notebook.metadata.pop("widgets", None)
    return removed


def clean_file(path: Path) -> int:
    """Clean one notebook file in place; returns how many outputs were removed."""
    notebook = nbformat.read(path, as_version=4)
    removed = clean_notebook(notebook)
    nbformat.write(notebook, path)
    return removed


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    for name in argv:
        path = Path(name)
        if not path.is_file():
            print(f"clean_executed: no notebook at {path}", file=sys.stderr)
            return 2
        print(f"clean_executed: {path}: removed {clean_file(path)} stderr/widget output(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
