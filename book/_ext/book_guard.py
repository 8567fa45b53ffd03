"""Sphinx extension for the book: never publish a failed notebook, and say which were not run.

The book shows notebooks that papermill executed into `book/executed/`. A notebook that
raised stops the build with an error. A page whose notebook was not executed (the main job
runs only 03_subset_size) becomes a placeholder page that says so and how to run it; with
REPRO_BOOK_STRICT=1 a missing page stops the build instead. Any other missing page is an error.
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import yaml
from sphinx.errors import ExtensionError

RUN_HINT = "run `bash scripts/run_notebooks.sh` (papermill writes book/executed/) before `jupyter-book build book`"
PLACEHOLDER_MARK = "<!-- book_guard placeholder: replaced when the notebook is executed -->"
EXECUTED = "executed/"


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


def _title(notebook_path: Path) -> str:
    for cell in nbformat.read(notebook_path, as_version=4).cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return notebook_path.stem


def write_placeholder(page: Path, notebook_path: Path) -> None:
    """A page for a notebook that was not executed: its title, and how to run it."""
    name = notebook_path.stem
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(f"""{PLACEHOLDER_MARK}
# {_title(notebook_path)}

```{{warning}}
This page was not executed for this build of the book, so it shows no results. Run it, then
build again:

    papermill notebooks/{name}.ipynb book/executed/{name}.ipynb
    jupyter-book build book

(`NOTEBOOKS={name} bash scripts/run_notebooks.sh` does the same; the notebook states what its
defaults run and how long they take.)
```
""")


def _sync_placeholder(srcdir: Path, entry: str) -> None:
    """Write a placeholder for an executed/ entry whose notebook was not run; drop a stale one."""
    if not entry.startswith(EXECUTED):
        return
    page, executed = srcdir / f"{entry}.md", srcdir / f"{entry}.ipynb"
    is_placeholder = page.exists() and page.read_text().startswith(PLACEHOLDER_MARK)
    if executed.exists():
        if is_placeholder:
            page.unlink()
        return
    source = srcdir.parent / "notebooks" / f"{entry.removeprefix(EXECUTED)}.ipynb"
    strict = os.environ.get("REPRO_BOOK_STRICT") == "1"
    if source.exists() and not strict and (is_placeholder or not page.exists()):
        write_placeholder(page, source)


def check_book(srcdir: Path) -> None:
    """Raise ExtensionError for a toc entry without a source file or a notebook with an error;
    notebooks not executed get placeholder pages (unless REPRO_BOOK_STRICT=1)."""
    for entry in toc_files(srcdir / "_toc.yml"):
        _sync_placeholder(srcdir, entry)
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
