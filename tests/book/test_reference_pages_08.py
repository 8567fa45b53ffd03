"""Page 08 (Fig. 5) keeps what it needs of each run's tuned weights as a change record
(`repro.generality.change_magnitude`): the records rebuild the histograms and tables exactly, the
statement states n and the direction per comparison, and the page trains its smoke grid (the
records stored), then renders from a reference store made of those records without training:
from the complete store, from a partial one (pending counts, no error) and from none."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from notebook_runner import run_smoke
from repro.generality.change_magnitude import (KIND, change_histogram, change_record, change_summary, histogram_of,
                                               log_edges, page_edges, size_statement, summary_table)
from repro.report.page_findings import PLACEHOLDER
from repro.runs.reference import export

NAME = "08_change_magnitude.ipynb"
CELLS = 4  # the smoke grid: random at 1e-3 and 1e-2, BitFit, full fine-tuning
SEEDS = 2  # the smoke profile's


def moved(scale: float, n: int = 400) -> torch.Tensor:
    """Changes of `n` tuned entries, a quarter unmoved, the others log-uniform around `scale`."""
    generator = torch.Generator().manual_seed(int(scale * 1e6) % 1000)
    values = scale * 10 ** (4 * torch.rand(n, generator=generator) - 2)
    values[: n // 4] = 0
    return values.float()


def test_records_rebuild_the_histogram_and_the_summary_exactly():
    changes = {("random", 1e-3): moved(1e-3), ("full", 1.0): torch.cat([moved(1e-6), torch.tensor([1e-11, 5.0])])}
    records = {cell: json.loads(json.dumps(change_record(values))) for cell, values in changes.items()}  # as stored
    for per_decade in (1, 3, 12):
        edges = page_edges(per_decade)
        pd.testing.assert_frame_equal(histogram_of(records, edges), change_histogram(changes, edges))
    pd.testing.assert_frame_equal(summary_table(records), change_summary(changes))
    with pytest.raises(ValueError, match=r"bins_per_decade 5 must be one of \[1, 2, 3, 4, 6, 12\]"):
        page_edges(5)
    with pytest.raises(ValueError, match="not a stored bin edge"):
        histogram_of(records, log_edges(-14, 0, 1))  # below the records' lowest edge


def table(medians: dict) -> pd.DataFrame:
    """A `summary_table` with only the column the statement reads."""
    return pd.DataFrame({"median |change| of moved": list(medians.values())},
                        index=pd.MultiIndex.from_tuples(list(medians), names=["selector", "subset size"]))


def test_statement_gives_n_and_the_direction_per_comparison():
    smaller_further = {("random", 1e-3): 3e-3, ("random", 1e-1): 1e-4, ("full", 1.0): 1e-5}
    one_seed = size_statement({0: table(smaller_further)})
    comparison = "**random** (subset size 0.1% against 10%): the smaller subset moved its entries further in 1 of 1"
    assert comparison in one_seed
    assert "**random against full**" in one_seed and "n = 1" in one_seed and "prints no values" in one_seed
    assert "not evidence" in one_seed and "as in the paper" not in one_seed.lower()

    opposite = {("random", 1e-3): 1e-4, ("random", 1e-1): 3e-3, ("full", 1.0): 1e-2}
    mixed = size_statement({0: table(smaller_further), 1: table(smaller_further), 2: table(opposite)})
    assert "further in 2 of 3 seed(s)" in mixed and "n = 3" in mixed and "differs between" in mixed
    every = size_statement({seed: table(smaller_further) for seed in range(3)})
    assert "further in 3 of 3 seed(s)" in every and "every seed of every comparison" in every
    none = size_statement({seed: table(opposite) for seed in range(2)})
    assert "further in 0 of 2 seed(s)" in none and "no seed of any comparison" in none
    partial = size_statement({0: table(smaller_further), 1: table({("random", 1e-3): 3e-3})})
    assert comparison in partial
    assert "nothing to compare" in size_statement({0: table({("bitfit", 1e-3): 1e-3})})


def page_outputs(outputs: list) -> dict:
    """The "What we found" text (the first Markdown output, updated at the page's end), all
    Markdown and HTML, and the number of figures."""
    data = [o.get("data", {}) for o in outputs]
    markdown = [str(d["text/markdown"]) for d in data if "text/markdown" in d]
    return {"found": markdown[0], "markdown": "\n".join(markdown),
            "html": "".join(str(d.get("text/html", "")) for d in data), "figures": sum("image/png" in d for d in data)}


def render(tmp_path: Path, study_data: Path, results: Path, reference: Path) -> dict:
    """The page read-only (retrain False) from `reference`; asserts that it wrote no run or record."""
    outputs = run_smoke(NAME, tmp_path, study_data, retrain=False, reference_dir=str(reference),
                        results_dir=str(results))
    assert not list(results.glob("runs/*.json")) and not list(results.glob("probes/*/*.json"))
    return page_outputs(outputs)


def test_page_trains_then_renders_from_a_reference_store(tmp_path, study_data):
    trained, reference = tmp_path / "trained", tmp_path / "reference"
    smoke = page_outputs(run_smoke(NAME, tmp_path, study_data, results_dir=str(trained),
                                   reference_dir=str(tmp_path / "none")))
    assert smoke["figures"] == 1 and "Our Fig. 5" in smoke["markdown"] and "median |change|" in smoke["html"]
    assert len(list(trained.glob(f"probes/{KIND}/*.json"))) == CELLS * SEEDS  # a record per chosen run
    assert f"n = {SEEDS}" in smoke["found"] and PLACEHOLDER not in smoke["markdown"]
    assert "profile **smoke**" in smoke["markdown"]
    export(trained, reference)

    full = render(tmp_path, study_data, tmp_path / "read-full", reference)
    assert full["figures"] == 1 and "median |change|" in full["html"]
    assert f"n = {SEEDS}" in full["found"] and "Pending" not in full["markdown"]

    selector = {path.stem: json.loads(path.read_text())["config"]["selector"] for path in reference.glob("runs/*.json")}
    next(reference / "runs" / f"{run}.json" for run, name in selector.items() if name == "bitfit").unlink()  # a run
    record = next(path for path in sorted(reference.glob(f"probes/{KIND}/*.json"))
                  if selector[json.loads(path.read_text())["identity"]["run_id"]] == "random")
    record.unlink()  # and the change record of a run of another cell
    partial = render(tmp_path, study_data, tmp_path / "read-partial", reference)
    assert partial["figures"] == 1
    assert "**Pending.** The change records of 1 chosen run(s)" in partial["found"]
    assert "Shown: the 3 of 4 cells" in partial["found"]  # Progress.note: the BitFit cell waits for its run

    empty = render(tmp_path, study_data, tmp_path / "read-empty", tmp_path / "no-reference")
    assert empty["figures"] == 0 and empty["found"].startswith("Nothing yet")
    assert "grids/smoke/change_magnitude.yaml" in empty["found"]
