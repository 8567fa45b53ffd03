"""scripts/browser_check.py: its link rules on fixture pages, its layout rule in Chromium (skipped
without a browser), and (slow) the whole check on a tiny book built with the project's own config,
CSS and cell tags."""
from __future__ import annotations

import base64
import importlib.util
import io
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
LONG_LINE = "result = " + " + ".join(f"value_{i}" for i in range(40))


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


check = load_script("browser_check")


def needs_browser():
    reason = check.missing_tools(CHROMIUM)
    if reason:
        pytest.skip(reason)


def write_site(root: Path, pages: dict[str, str]) -> Path:
    for name, html in pages.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(html)
    return root


# ---- pure parts -------------------------------------------------------------------------------

def test_parse_page_finds_targets_ids_and_the_refresh_target():
    targets, ids = check.parse_page(
        '<meta http-equiv="Refresh" content="0; url=executed/00_findings.html" />'
        '<a id="top" href="a.html#x">a</a><img src="_images/f.png"><a name="old"></a>'
        '<link rel="stylesheet" href="_static/custom.css"><script src="_static/x.js"></script>')
    assert targets == ["executed/00_findings.html", "a.html#x", "_images/f.png", "_static/custom.css",
                       "_static/x.js"]
    assert ids == {"top", "old"}


@pytest.mark.parametrize("page, target, expected", [
    ("executed/03.html", "../about.html#glossary", ("about.html", "glossary")),
    ("index.html", "executed/00_findings.html", ("executed/00_findings.html", "")),
    ("executed/03.html", "#fig-3", ("executed/03.html", "fig-3")),
    ("about.html", "./", ("index.html", "")),
    ("about.html", "a%20b.html", ("a b.html", "")),
    ("about.html", "https://example.org/x.html", None),
    ("about.html", "mailto:someone@example.org", None),
    ("about.html", "//cdn.example.org/lib.js", None),
])
def test_resolve_maps_links_to_files_of_the_build(page, target, expected):
    assert check.resolve(page, target) == expected


def test_broken_links_reports_missing_files_and_anchors_only(tmp_path):
    site = write_site(tmp_path, {
        "index.html": '<meta http-equiv="refresh" content="0; url=gone.html">',
        "a.html": '<h1 id="top">A</h1><a href="b/c.html#sec">ok</a><a href="b/c.html#nope">bad anchor</a>'
                  '<a href="missing.html">bad</a><img src="_images/none.png"><a href="https://x.org/y">ext</a>'
                  '<a href="#">empty fragment</a><a href="#top">self</a>',
        "b/c.html": '<section id="sec"></section><a href="../a.html">back</a>',
        "_static/skipped.html": '<a href="nowhere.html">not a page of the book</a>',
    })
    pages = check.book_pages(site)
    assert pages == ["a.html", "b/c.html", "index.html"]
    assert check.broken_links(site, pages) == [
        "a.html: broken anchor b/c.html#nope",
        "a.html: broken link _images/none.png",
        "a.html: broken link missing.html",
        "index.html: broken link gone.html",
    ]


def test_a_missing_browser_is_a_skip_not_a_failure(tmp_path, capsys):
    write_site(tmp_path, {"index.html": "<p>book</p>"})
    assert check.main(["--html", str(tmp_path), "--chromium", str(tmp_path / "no-chromium")]) == 0
    assert capsys.readouterr().out.startswith("SKIPPED: ")


def test_no_build_and_bad_widths_are_usage_errors(tmp_path, capsys):
    assert check.main(["--html", str(tmp_path)]) == 2
    assert "run `jupyter-book build book` first" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        check.main(["--html", str(tmp_path), "--widths", "1280,abc"])
    assert "--widths '1280,abc'" in capsys.readouterr().err


# ---- the layout and console rules, in Chromium --------------------------------------------------

def code_page(stylesheet: str) -> str:
    return (f'<html><head>{stylesheet}</head><body><div style="width:600px">'
            f'<div class="highlight"><pre style="overflow: auto">{LONG_LINE}</pre></div></div></body></html>')


def test_overflow_rule_flags_a_long_code_line_that_the_book_css_wraps(tmp_path):
    needs_browser()
    shutil.copytree(ROOT / "book" / "_static", tmp_path / "_static")
    site = write_site(tmp_path, {
        "index.html": code_page(""),
        "wrapped.html": code_page('<link rel="stylesheet" href="_static/custom.css">'),
    })
    findings = check.browse(site, ["index.html", "wrapped.html"], [1280], CHROMIUM, None)
    assert findings.problems == [f"1280px index.html: code line wider than its box: {LONG_LINE[:70]!r}"]


def test_console_errors_of_the_book_fail_and_blocked_third_party_loads_are_listed(tmp_path):
    needs_browser()
    site = write_site(tmp_path, {
        "index.html": '<script src="https://cdn.example.org/lib.js"></script>'
                      '<script>console.error("the book broke")</script><img src="_images/none.png">',
    })
    findings = check.browse(site, ["index.html"], [400], CHROMIUM, None)
    assert any("console error: the book broke" in p for p in findings.problems)
    assert any(p.startswith("400px index.html: HTTP 404 for _images/none.png") for p in findings.problems)
    assert any("broken image _images/none.png" in p for p in findings.problems)
    assert [i for i in findings.ignored if "cdn.example.org" in i]
    assert not [p for p in findings.problems if "cdn.example.org" in p]


# ---- the whole check on a tiny book (slow: a jupyter-book build) --------------------------------

def png_figure() -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(12, 4))
    axes.plot([1, 2, 3], [1, 3, 2])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def tiny_notebook():
    """A page with what the book's notebooks show: a long code line, tagged plumbing cells, a wide
    table, a figure, stderr noise, a citation, and generated Markdown with roles."""
    v4 = nbformat.v4
    wide_table = "<table><tr>" + "".join(f"<th>column {i}</th>" for i in range(30)) + "</tr><tr>" + \
        "".join(f"<td>{i / 7:.4f}</td>" for i in range(30)) + "</tr></table>"
    cells = [
        v4.new_markdown_cell("# A tiny page\n\nBitFit {cite:p}`benzaken2022bitfit` tunes the biases."),
        v4.new_code_cell(LONG_LINE, outputs=[v4.new_output("stream", name="stdout", text=LONG_LINE + "\n")]),
        v4.new_code_cell("hidden_plumbing = 1", metadata={"tags": ["hide-input"]},
                         outputs=[v4.new_output("stream", name="stderr", text="progress 10%\r")]),
        v4.new_code_cell("removed_plumbing = 2", metadata={"tags": ["remove-input"]},
                         outputs=[v4.new_output("display_data", data={"text/html": wide_table, "text/plain": "t"})]),
        v4.new_code_cell("figure", outputs=[v4.new_output("display_data",
                                                          data={"image/png": png_figure(), "text/plain": "f"})]),
        v4.new_code_cell("generated", outputs=[v4.new_output("display_data", data={
            "text/markdown": "Generated: see {doc}`the intro <../intro>` and {cite:t}`hu2022lora`.",
            "text/plain": "<IPython.core.display.Markdown object>"})]),
    ]
    return v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"},
                                                      "language_info": {"name": "python"}})


def build_tiny_book(root: Path) -> Path:
    """A book with the project's _config.yml, CSS, extension and references; returns its HTML."""
    book = root / "book"
    book.mkdir()
    for name in ("_config.yml", "references.bib", "bibliography.md"):
        shutil.copy(ROOT / "book" / name, book / name)
    for folder in ("_static", "_ext"):
        shutil.copytree(ROOT / "book" / folder, book / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                   "  - file: executed/tiny\n  - file: bibliography\n")
    (book / "intro.md").write_text(f"# Intro\n\nSee {{doc}}`executed/tiny`.\n\n```python\n{LONG_LINE}\n```\n")
    (book / "executed").mkdir()
    nbformat.write(tiny_notebook(), book / "executed" / "tiny.ipynb")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    subprocess.run([str(jupyter_book), "build", str(book), "--warningiserror", "--keep-going"],
                   check=True, capture_output=True, text=True)
    return book / "_build" / "html"


@pytest.mark.slow
def test_a_tiny_book_built_with_the_project_config_passes_the_check(tmp_path, capsys):
    needs_browser()
    html = build_tiny_book(tmp_path)
    page = (html / "executed" / "tiny.html").read_text()
    assert "removed_plumbing" not in page and "hidden_plumbing" in page  # the cell tags work
    assert "progress 10%" not in page  # stderr is not rendered
    assert page.count("const THEBE_JS_URL") == 1  # book/_ext/unique_scripts.py
    text = " ".join(page.split())
    assert "Ben Zaken <em>et al.</em>, 2022</a>" in text  # the citation, author-year
    assert 'href="../intro.html"' in text and "Hu <em>et al.</em>" in text  # roles in displayed Markdown
    assert check.main(["--html", str(html), "--screenshots", str(tmp_path / "shots")]) == 0, capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == ["landing-1280.png", "landing-400.png"]
