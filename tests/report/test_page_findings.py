"""The "What we found" block: claims as sentences with their statistics, pending counts, complete
cells only, and the commands when nothing is complete; and the statements of pages 01 and 02."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from repro.findings.claims import CLAIMS
from repro.findings.evidence import Evidence
from repro.findings.verdicts import Verdict
from repro.report.findings import embedding_statement, learning_rate_statements
from repro.report.mask_figures import ALL_PARAMETERS
from repro.report.page_findings import (Progress, LazyTestSizes, claim_sentence, complete, complete_runs, found_block,
                                        page_claims, status_counts)
from repro.runs.config import RunConfig
from repro.runs.learning_rate import summarise
from repro.runs.store import config_row

CLAIM = CLAIMS[0]


def configs(selectors=("random", "bitfit"), seeds=(0, 1), rates=(1e-3, 1e-2)) -> list[RunConfig]:
    return [RunConfig(task="sst2", selector=s, subset_size=1e-3 if s == "random" else None, learning_rate=lr, seed=seed,
                      model="tiny-random") for s in selectors for seed in seeds for lr in rates]


def frame_of(stored: list[RunConfig], status="ok") -> pd.DataFrame:
    return pd.DataFrame([config_row(c) | {"status": status, "metric_validation": 0.5 + c.learning_rate,
                                          "metric_test": 0.6, "sel_fraction": 1e-3} for c in stored])


PAGES = ["01_selection_strategies.ipynb", "02_learning_rate.ipynb", "03_subset_size.ipynb"]


@pytest.mark.parametrize("notebook", PAGES)
def test_each_page_has_claims(notebook):
    assert page_claims(notebook) and all(c.page == notebook for c in page_claims(notebook))


def test_a_claim_sentence_states_effect_ci_n_test_floor_and_verdict():
    evidence = Evidence(Verdict.INCONCLUSIVE, "sst2: full - lora: +0.0100 [-0.0020, +0.0220] (n=5 pairs, Holm p=0.09)",
                        "paired t-test", 0.01, -0.002, 0.022, 5, 0.09, noise_floor=0.0081)
    text = claim_sentence(CLAIM, evidence)
    assert text.startswith(f"**{CLAIM.statement}** Ours: sst2: full - lora: +0.0100 [-0.0020, +0.0220] (n=5")
    assert "Test: paired t-test; noise floor 0.0081" in text
    assert text.endswith("Verdict: **inconclusive at this scale**.")
    unknown = claim_sentence(CLAIM, Evidence(Verdict.HOLDS, "x", "t", noise_floor=math.nan))
    assert "noise floor" not in unknown and "**holds**" in unknown


def test_a_pending_claim_says_how_many_cells_it_lacks():
    evidence = Evidence(Verdict.PENDING, "", "t", missing=("sst2: lora: no runs", "qnli: lora: no runs"))
    assert claim_sentence(CLAIM, evidence).endswith("Pending: 2 cell(s) it needs are incomplete (first: sst2: lora: "
                                                    "no runs).")
    so_far = Evidence(Verdict.HOLDS, "sst2: full - lora: +0.0100", "t", tasks=("sst2",))
    assert claim_sentence(CLAIM, evidence, so_far).endswith(
        f"(first: sst2: lora: no runs). So far, on sst2 (1 of {len(CLAIM.scope)} tasks): holds; sst2: full - lora: "
        "+0.0100 (not a verdict).")


def test_pending_runs_leave_their_cell_out_and_are_counted():
    expected = configs()
    stored = [c for c in expected if not (c.selector == "bitfit" and c.seed == 1)]  # bitfit lacks seed 1
    summary = summarise(frame_of(stored), expected)
    progress = Progress.of(summary, expected)
    assert (progress.runs, progress.pending, progress.cells, progress.complete) == (8, 2, 2, 1)
    assert list(complete(summary)["selector"]) == ["random"]
    assert set(complete_runs(frame_of(stored), summary)["selector"]) == {"random"}
    assert progress.note().startswith("Shown: the 1 of 2 cells whose runs are all stored; pending: 1 cell(s), 2 of")
    assert Progress.of(summarise(frame_of(expected), expected), expected).note() == ""
    counts = status_counts(frame_of(stored), expected)
    assert counts.loc["sst2"].to_dict() == {"ok": 6, "pending": 2}


def test_the_block_lists_claims_then_statements_or_gives_the_commands():
    some = Progress(runs=8, pending=2, cells=2, complete=1)
    text = found_block("subset_size", ["claim one", "claim two"], some, "smoke", "Own statement.")
    assert text.startswith("- claim one\n- claim two\n\nOwn statement.\n\nShown: the 1 of 2 cells")
    assert "{doc}`findings page <00_findings>`" in text
    nothing = found_block("subset_size", ["claim"], Progress(8, 8, 2, 0), "smoke")
    assert nothing.startswith("Nothing yet: none of this page's 2 cells has all its runs on profile **smoke** "
                              "(8 of 8 runs pending)")
    assert "python -m repro sweep grids/smoke/subset_size.yaml" in nothing and "claim" not in nothing


def test_test_sizes_are_read_when_asked_and_unknown_tasks_are_absent(study_data):
    sizes = LazyTestSizes(study_data)
    assert "sst2" in sizes and sizes["sst2"] == 20  # conftest's SST-2 dev file: 20 rows
    assert "qnli" not in sizes  # not in the folder: its noise floor is unknown
    with pytest.raises(KeyError):
        sizes["qnli"]


def test_embedding_statement_has_no_paper_claim_and_says_one_mask():
    shares = pd.DataFrame({"embeddings": [0.5, 0.1, 0.25]}, index=["random", "bitfit", ALL_PARAMETERS])
    text = embedding_statement(shares, "sst2", 0)
    assert "No counterpart in the paper" in text and "move the embeddings" not in text
    assert "One mask per variant (sst2, seed 0)" in text
    assert "- **random**: 50.0% of its mask (2.0x" in text and text.index("random") < text.index("bitfit")


def test_learning_rate_statements_mark_edges_and_state_the_seeds():
    summary = pd.DataFrame({"fraction": [1e-3, 1e-2, 1e-3, 1e-2, 1e-2],
                            "learning_rate": [0.1, 0.01, 0.01, 0.01, math.nan],
                            "selector": ["random", "random", "largest_downstream_sqgrad", "largest_downstream_sqgrad",
                                         "bitfit"],
                            "at_edge": [True, False, False, False, False], "n_seeds": [5, 5, 5, 4, 0]})
    text = learning_rate_statements(summary, ["random", "largest_downstream_sqgrad", "bitfit"])
    assert "higher than the downstream sq-grad subset's at 1 of 2 subset sizes, equal at 1" in text
    assert "random: chosen rate never rises as the subset grows (size: rate; 0.1%: 1e-1 (edge), 1%: 1e-2)" in text
    assert "found it higher at every size" not in text and "bitfit" not in text  # no chosen rate: left out
    assert "(n = 4, 5)" in text
    assert learning_rate_statements(summary.iloc[:1], ["random"]) == "Too few sizes for a comparison."
