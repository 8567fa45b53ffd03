"""Pages 01-03 render from a reference store without training: from a complete one (figures and
tables, nothing written to the results folder), from a partial one (pending counts, no error)
and from one that holds none of a page's complete cells (the commands instead of a figure).

Each page's reference is made once per module: the page trains its smoke grid into a results
folder, which `repro.runs.reference.export` copies into a reference store.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import write_study_data
from notebook_runner import run_smoke

from repro.data import DATA_DIR_ENV
from repro.report.page_findings import PLACEHOLDER
from repro.runs.reference import export

PAGES = {  # the smoke parameters each page trains and renders with
    "01_selection_strategies.ipynb": {"tasks": "sst2,conll03", "train_size": 16, "seeds": "0"},
    "02_learning_rate.ipynb": {"seeds": "0", "subset_sizes": "1e-3,1e-2"},
    "03_subset_size.ipynb": {},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(DATA_DIR_ENV, raising=False)
        yield write_study_data(tmp_path_factory.mktemp("reference_pages") / "data")


def make_reference(name: str, tmp_path_factory, data: Path) -> Path:
    """Train the page's smoke grid (executing the page) and export the results into a reference."""
    folder = tmp_path_factory.mktemp(name.split("_")[0])
    run_smoke(name, folder, data, **PAGES[name])
    export(folder / "results", folder / "reference")
    return folder / "reference"


@pytest.fixture(scope="module")
def reference_01(tmp_path_factory, data):
    return make_reference("01_selection_strategies.ipynb", tmp_path_factory, data)


@pytest.fixture(scope="module")
def reference_02(tmp_path_factory, data):
    return make_reference("02_learning_rate.ipynb", tmp_path_factory, data)


@pytest.fixture(scope="module")
def reference_03(tmp_path_factory, data):
    return make_reference("03_subset_size.ipynb", tmp_path_factory, data)


def render(name: str, reference: Path, tmp_path: Path, data: Path) -> list:
    """Execute the page read-only (retrain False) from `reference` into an empty results folder;
    asserts that nothing was written there and returns the outputs."""
    outputs = run_smoke(name, tmp_path, data, retrain=False, reference_dir=str(reference), **PAGES[name])
    results = tmp_path / "results"
    assert not list(results.glob("runs/*.json")) and not list(results.glob("probes/*/*.json"))  # trained nothing
    return outputs


def copy_without(reference: Path, tmp_path: Path, drop) -> Path:
    """A copy of `reference` without the run records whose JSON `drop(record)` is true."""
    copy = tmp_path / "partial_reference"
    shutil.copytree(reference, copy)
    for path in (copy / "runs").glob("*.json"):
        if drop(json.loads(path.read_text())):
            path.unlink()
    return copy


def markdown(outputs: list) -> str:
    return "\n".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)


def html(outputs: list) -> str:
    return "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)


def pngs(outputs: list) -> int:
    return sum("image/png" in o.get("data", {}) for o in outputs)


def found(outputs: list) -> str:
    """The text under "What we found": the first Markdown output (the placeholder, updated at the end)."""
    text = next(str(o["data"]["text/markdown"]) for o in outputs if "text/markdown" in o.get("data", {}))
    assert PLACEHOLDER not in text
    return text


def table_with(outputs: list, header: str) -> str:
    """The first HTML table whose text holds `header`."""
    return next(t for t in html(outputs).split("<table") if header in t)


def test_selection_strategies_renders_from_the_reference(tmp_path, data, reference_01):
    outputs = render("01_selection_strategies.ipynb", reference_01, tmp_path, data)
    assert pngs(outputs) == 3  # budget groups and layers, and the overlap: from the stored summaries
    assert "sst2: paper rank" in html(outputs) and "pending" not in html(outputs)
    text = found(outputs)
    assert "Full fine-tuning beats every PEFT method" in text and "Embedding layer." in text
    assert "Pending: the mask summaries" not in markdown(outputs)


def test_selection_strategies_from_a_partial_reference(tmp_path, data, reference_01):
    partial = copy_without(reference_01, tmp_path, lambda r: r["config"]["task"] == "conll03"
                           and r["config"].get("selector") == "combined")
    sorted((partial / "probes" / "mask_budget").glob("*.json"))[0].unlink()  # one variant's mask summary
    outputs = render("01_selection_strategies.ipynb", partial, tmp_path, data)
    assert "Shown: the" in found(outputs)
    assert "<th" in html(outputs) and "pending" in html(outputs)  # the status table counts them
    assert "Pending: the mask summaries of" in markdown(outputs)
    assert pngs(outputs) == 2  # groups and layers of the other variants; no overlap without every mask


def test_learning_rate_renders_from_the_reference(tmp_path, data, reference_02):
    outputs = render("02_learning_rate.ipynb", reference_02, tmp_path, data)
    assert pngs(outputs) == 1 and "Our Fig. 2" in markdown(outputs)
    text = found(outputs)
    assert "A random subset wants a higher learning rate" in text and "chosen rate" in text
    assert "Shown: the" not in text


def test_learning_rate_from_a_partial_reference(tmp_path, data, reference_02):
    partial = copy_without(reference_02, tmp_path, lambda r: r["config"].get("selector") == "random"
                           and r["config"]["subset_size"] == 1e-3)
    outputs = render("02_learning_rate.ipynb", partial, tmp_path, data)
    assert pngs(outputs) == 1 and "Shown: the" in found(outputs)


def test_subset_size_renders_from_the_reference(tmp_path, data, reference_03):
    outputs = render("03_subset_size.ipynb", reference_03, tmp_path, data)
    assert pngs(outputs) == 1 and "Our Fig. 3" in markdown(outputs)
    assert "At very small subsets" in found(outputs)
    assert outputs[-1]["data"]["text/markdown"].startswith("**Provenance.**")


def test_subset_size_from_a_partial_reference(tmp_path, data, reference_03):
    partial = copy_without(reference_03, tmp_path, lambda r: r["config"].get("selector") == "bitfit"
                           and r["config"]["seed"] == 1)
    outputs = render("03_subset_size.ipynb", partial, tmp_path, data)
    assert pngs(outputs) == 1 and "Shown: the" in found(outputs)
    assert "bitfit" not in table_with(outputs, "rates tried")  # the results table: complete cells only


def test_subset_size_without_a_complete_cell(tmp_path, data, reference_03):
    partial = copy_without(reference_03, tmp_path, lambda r: r["config"]["seed"] == 1)  # every cell lacks seed 1
    outputs = render("03_subset_size.ipynb", partial, tmp_path, data)
    assert pngs(outputs) == 0
    text = found(outputs)
    assert text.startswith("Nothing yet") and "python -m repro sweep grids/smoke/subset_size.yaml" in text
