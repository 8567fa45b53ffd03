"""The project's own files agree: conda environment vs pyproject, book table of contents vs notebooks."""
from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml
from sphinx.errors import ExtensionError

from book_guard import check_book, notebook_problems, toc_files

ROOT = Path(__file__).resolve().parents[2]


def test_environment_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    pip = next(d["pip"] for d in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
               if isinstance(d, dict))
    assert set(pip) - {"-e ."} == wanted


def test_toc_pages_are_executed_notebooks_or_pages():
    for entry in toc_files(ROOT / "book" / "_toc.yml"):
        if entry.startswith("executed/"):
            assert (ROOT / "notebooks" / f"{Path(entry).name}.ipynb").exists(), entry
        else:
            assert (ROOT / "book" / f"{entry}.md").exists(), entry


def write_book(root: Path, notebook) -> Path:
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: executed/nb\n")
    (root / "intro.md").write_text("# Intro\n")
    if notebook is not None:
        (root / "executed").mkdir()
        nbformat.write(notebook, root / "executed" / "nb.ipynb")
    return root


def test_guard_accepts_a_clean_book(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    check_book(write_book(tmp_path, notebook))


def test_guard_refuses_a_missing_notebook(tmp_path):
    with pytest.raises(ExtensionError, match="'executed/nb' is missing: run `bash scripts/run_notebooks.sh`"):
        check_book(write_book(tmp_path, None))


def test_guard_refuses_a_notebook_with_an_error(tmp_path):
    cell = nbformat.v4.new_code_cell("1/0")
    cell.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    assert notebook_problems_for(tmp_path, notebook) == ["cell 0 raised ZeroDivisionError: division by zero"]
    with pytest.raises(ExtensionError, match="did not run cleanly: cell 0 raised ZeroDivisionError"):
        check_book(write_book(tmp_path, notebook))


def notebook_problems_for(tmp_path: Path, notebook) -> list[str]:
    path = tmp_path / "probe.ipynb"
    nbformat.write(notebook, path)
    return notebook_problems(path)


def book_with_source_notebook(tmp_path: Path) -> Path:
    """A book folder whose toc lists executed/nb, beside a notebooks/nb.ipynb source."""
    (tmp_path / "notebooks").mkdir()
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# The page title\n\ntext")])
    nbformat.write(source, tmp_path / "notebooks" / "nb.ipynb")
    (tmp_path / "book").mkdir()
    return write_book(tmp_path / "book", None)


def test_guard_writes_a_placeholder_for_a_notebook_not_executed_and_drops_it_once_run(tmp_path, monkeypatch):
    monkeypatch.delenv("REPRO_BOOK_STRICT", raising=False)
    book = book_with_source_notebook(tmp_path)
    check_book(book)
    page = (book / "executed" / "nb.md").read_text()
    assert "# The page title" in page and "was not executed" in page and "papermill notebooks/nb.ipynb" in page
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), book / "executed" / "nb.ipynb")
    check_book(book)
    assert not (book / "executed" / "nb.md").exists()


def test_guard_in_strict_mode_refuses_a_notebook_not_executed(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_BOOK_STRICT", "1")
    with pytest.raises(ExtensionError, match="'executed/nb' is missing"):
        check_book(book_with_source_notebook(tmp_path))
