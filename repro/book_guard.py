"""Sphinx extension for the book: refuse to build from missing or failed notebooks.

The book shows notebooks that papermill executed into `book/executed/`. A build without
them, or with a notebook that raised, would publish a page without its results, so this
extension stops the build with an error that says what to run.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import yaml
from sphinx.errors import ExtensionError

RUN_HINT = "run `bash scripts/run_notebooks.sh` (papermill writes book/executed/) before `jupyter-book build book`"


def toc_files(toc_path: Path) -> list[str]:
    """Every `file:` entry of a jupyter-book `_toc.yml`, root included."""
    toc = yaml.safe_load(toc_path.read_text())
    files, stack = [toc["root"]], [toc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return files


def notebook_problems(path: Path) -> list[str]:
    """Why an executed notebook must not be published (empty when it is fine)."""
    notebook = nbformat.read(path, as_version=4)
    problems = []
    if notebook.metadata.get("papermill", {}).get("exception"):
        problems.append("papermill recorded an exception")
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"cell {index} raised {output.get('ename')}: {output.get('evalue')}")
    return problems


def check_book(srcdir: Path) -> None:
    """Raise ExtensionError for a toc entry without a source file or a notebook with an error."""
    for entry in toc_files(srcdir / "_toc.yml"):
        candidates = [srcdir / f"{entry}{suffix}" for suffix in (".md", ".ipynb", ".rst")]
        found = [p for p in candidates if p.exists()]
        if not found:
            raise ExtensionError(f"book page {entry!r} is missing: {RUN_HINT}")
        if found[0].suffix == ".ipynb":
            problems = notebook_problems(found[0])
            if problems:
                raise ExtensionError(f"notebook {found[0]} did not run cleanly: {'; '.join(problems)}")


def setup(app):
    app.connect("builder-inited", lambda app: check_book(Path(app.srcdir)))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
