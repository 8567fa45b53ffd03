"""Notebook parameters: what a page declares (its `parameters` cell) and a refusal of the
papermill parameters it does not declare. papermill only logs a warning for those and injects
them anyway, so `papermill page.ipynb out.ipynb -p lr 1e-3` would run as if `lr` were not given.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

PAPERMILL_CELL = "# Parameters\n"  # how the cell papermill injects after the `parameters` cell starts (Python)


def check_parameters(history: list[str] | None = None) -> None:
    """Refuse papermill parameters that the running notebook does not declare: ValueError naming
    the unknown names and the declared ones. `history`: the sources of the cells run so far
    (IPython's `In`, read when None; outside IPython there is nothing to check). The injected
    cell is the last one that starts with papermill's "# Parameters" line; the declared names
    are those assigned in the cell run just before it, the notebook's `parameters` cell."""
    if history is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
        history = list(shell.user_ns.get("In", [])) if shell is not None else []
    injected = [i for i, source in enumerate(history) if i > 0 and source.startswith(PAPERMILL_CELL)]
    if not injected:
        return
    declared = assigned_names(history[injected[-1] - 1])
    unknown = sorted(name for name in assigned_names(history[injected[-1]]) - declared
                     if not name.startswith("PAPERMILL_"))  # papermill's own --inject-paths names
    if unknown:
        raise ValueError(f"unknown notebook parameter(s) {unknown}: this notebook's parameters are "
                         f"{sorted(declared) or 'none'} (see its parameters cell)")


def declared_parameters(notebook) -> set[str]:
    """The parameters a notebook file declares: the names its `parameters` cell assigns (the
    names `check_parameters` allows; papermill's own inspection skips a line whose comment holds '=')."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    return set().union(*(assigned_names("".join(cell["source"])) for cell in cells
                         if "parameters" in cell.get("metadata", {}).get("tags", [])))


def assigned_names(source: str) -> set[str]:
    """The names a cell assigns at its top level (`name = ...`)."""
    return {target.id for node in ast.parse(source).body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)}
