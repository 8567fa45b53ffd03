"""Pages 04-07 on the smoke profile: each trains its grid (the smoke test), then renders from a
reference store made of those records (`repro.runs.reference.export`) and trains nothing, from
the complete store (tables, figures and "What we found" are there), from a partial one (some
records deleted: the page says what is pending, without an error) and from none (the "nothing
yet" text with the commands, no figure)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from notebook_runner import run_smoke
from repro.report.page_findings import PLACEHOLDER
from repro.runs.reference import export


def primary_is(selector: str, **fields):
    """A predicate on run configs: a primary run (no init_from) of `selector` with `fields`."""
    def test(config: dict) -> bool:
        return (config.get("init_from") is None and config["selector"] == selector
                and all(config.get(k) == v for k, v in fields.items()))
    return test


# page -> (its smoke parameters, the primary cell whose records the partial test deletes, what its tables show,
# how its "What we found" statement starts, secondary runs and MLM probes the training writes: per chosen primary
# run its secondary tasks, the primary's own among them except on 05; a probe per primary run and one of the
# pretrained encoder)
PAGES = {
    "04_generality.ipynb": (dict(secondary_tasks="conll03",
                                 variants="full,random,bitfit,lora,diff_pruning_no_retrain,full+l1:0.01"),
                            primary_is("random"), "MLM diff: paper", "**Secondary tasks**", 6 * 2, 6 + 1),
    "05_task_similarity.ipynb": (dict(selectors="random,diff_pruning_no_retrain", subset_sizes="1e-2"),
                                 primary_is("random"), "trec6 full: paper", "**Similar vs. dissimilar**", 2 * 2, 0),
    "06_lora_rank.ipynb": (dict(secondary_tasks="conll03", ranks="1,4"), primary_is("lora", lora_rank=1),
                           "share: paper", "**Rank.**", 1 * 2, 1 + 1),
    "07_regularization.ipynb": (dict(secondary_tasks="conll03", coefficients="0.01,1"),
                                primary_is("full", regularization="l1", regularization_strength=1.0), "full+l2:1",
                                "**Trends**", 5 * 2, 5 + 1),
}
FIGURES = {"04_generality.ipynb": 0, "05_task_similarity.ipynb": 0, "06_lora_rank.ipynb": 1,
           "07_regularization.ipynb": 1}
PENDING_CELLS = "cells whose runs are all stored; pending: "  # `Progress.note`, beside the tables


def page_outputs(outputs: list) -> dict:
    """A page's "What we found" text (its first Markdown output: the placeholder the page's end
    replaced), all its Markdown and HTML, and how many figures it drew."""
    data = [o.get("data", {}) for o in outputs]
    markdown = [str(d["text/markdown"]) for d in data if "text/markdown" in d]
    return {"found": markdown[0], "markdown": "\n".join(markdown),
            "html": "".join(str(d.get("text/html", "")) for d in data),
            "figures": sum("image/png" in d for d in data)}


def render(name: str, tmp_path: Path, study_data: Path, results: Path, reference: Path) -> dict:
    """The page on the smoke profile from `reference`, training nothing (`page_outputs`)."""
    outputs = run_smoke(name, tmp_path, study_data, retrain=False, reference_dir=str(reference),
                        results_dir=str(results), train_size=16, seeds="0", **PAGES[name][0])
    return page_outputs(outputs)


def records(folder: Path) -> list[Path]:
    """Every run or probe record a results folder holds."""
    return sorted(folder.glob("runs/*.json")) + sorted(folder.glob("probes/*/*.json"))


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_trains_then_renders_from_a_reference_store(name, tmp_path, study_data):
    parameters, victim, shown, statement, secondary_runs, mlm_probes = PAGES[name]
    trained, reference = tmp_path / "trained", tmp_path / "reference"
    smoke = page_outputs(run_smoke(name, tmp_path, study_data, results_dir=str(trained),
                                   reference_dir=str(tmp_path / "none"), train_size=16, seeds="0", **parameters))
    assert shown in smoke["html"] and "<b>" in smoke["html"] and smoke["figures"] == FIGURES[name]
    stored = [json.loads(path.read_text()) for path in (trained / "runs").glob("*.json")]
    assert {r["status"] for r in stored} == {"ok"}
    assert sum(r["config"].get("init_from") is not None for r in stored) == secondary_runs
    assert len(list(trained.glob("probes/mlm/*.json"))) == mlm_probes
    assert statement in smoke["found"] and PLACEHOLDER not in smoke["markdown"]
    export(trained, reference)

    full = render(name, tmp_path, study_data, tmp_path / "read-full", reference)
    assert not records(tmp_path / "read-full")  # nothing was trained or probed
    assert shown in full["html"] and full["figures"] == FIGURES[name]
    assert statement in full["found"]
    assert PENDING_CELLS not in full["markdown"] and "**Pending:**" not in full["markdown"]

    runs = {path: json.loads(path.read_text())["config"] for path in (reference / "runs").glob("*.json")}
    deleted = [path for path, config in runs.items() if victim(config)]
    gone = {path.stem for path in deleted}  # a secondary run of another primary run, too:
    deleted += [next(path for path, config in runs.items() if config.get("init_from") not in gone | {None})]
    for path in deleted:
        path.unlink()
    partial = render(name, tmp_path, study_data, tmp_path / "read-partial", reference)
    assert not records(tmp_path / "read-partial")
    assert f"{PENDING_CELLS}1 cell(s)" in partial["found"]  # the primary cell without its records
    assert "**Pending:** 1 base or secondary run(s)" in partial["markdown"]  # a table without its secondary run
    assert "pending (1 base or secondary run(s)" in partial["found"]

    empty = render(name, tmp_path, study_data, tmp_path / "read-empty", tmp_path / "no-reference")
    assert not records(tmp_path / "read-empty")
    assert "Nothing yet" in empty["found"] and empty["figures"] == 0


def test_retrain_missing_extends_a_reference_of_primaries_with_section_4s_secondaries(tmp_path, study_data):
    """The reference sweep's page stage: a store with the primary runs only; the page reads them,
    re-runs each chosen primary for its tuned weights (same result), trains the secondary runs and
    probes, and export takes the new records and skips the re-made ones."""
    name = "04_generality.ipynb"
    parameters = PAGES[name][0]
    trained, reference = tmp_path / "trained", tmp_path / "reference"
    run_smoke(name, tmp_path, study_data, results_dir=str(trained), reference_dir=str(tmp_path / "none"),
              train_size=16, seeds="0", **parameters)
    for path in trained.glob("probes/*/*.json"):
        path.unlink()
    secondaries = [p for p in (trained / "runs").glob("*.json") if json.loads(p.read_text())["config"].get("init_from")]
    for path in secondaries:
        path.unlink()
    export(trained, reference)  # primaries only
    primaries = {p.name for p in (reference / "runs").glob("*.json")}

    extended = tmp_path / "extended"
    outputs = page_outputs(run_smoke(name, tmp_path, study_data, retrain="missing", reference_dir=str(reference),
                                     results_dir=str(extended), train_size=16, seeds="0", **parameters))
    made = {p.name for p in (extended / "runs").glob("*.json")}
    assert {p.name for p in secondaries} <= made  # the secondary runs were trained
    assert len(list(extended.glob("probes/mlm/*.json"))) == PAGES[name][5]
    assert PENDING_CELLS not in outputs["markdown"] and "**Pending:**" not in outputs["markdown"]
    report = export(extended, reference)
    assert made & primaries and {Path(p).name for p in report.reproduced} == made & primaries  # re-made: weights
    assert {Path(p).name for p in report.copied if p.startswith("runs/")} == made - primaries
