"""The findings page's content: the table, the answer written from the verdicts, the missing runs,
the paper's evidence checked against the paper's text, and the page itself on a synthetic store."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest

from findings.synthetic import study, truth_scorer, write
from notebook_runner import NOTEBOOKS
from repro.findings.claims import CLAIMS, FIG3_SCOPE, SIZES, claim_named
from repro.findings.evidence import Evidence
from repro.findings.summary import answer, details_table, findings_table, markdown_table, missing_runs
from repro.findings.verdicts import Verdict
from repro.report.paper_generality import TABLE3, TABLE8
from repro.report.paper_table1 import TABLE1

PAPER = Path(os.environ.get("REPRO_TEST_PAPER",  # the paper's text: a setting, else the shared folder beside the project
                           Path(__file__).resolve().parents[2] / ".." / "shared" / "paper" / "paper.txt"))
needs_paper = pytest.mark.skipif(not PAPER.exists(), reason="the paper's text is not on this machine")


def weighed(verdicts: dict[str, Verdict]):
    return [(claim_named(key), Evidence(verdict, f"effect of {key}", "a test", 0.01, 0.0, 0.02, 5, 0.01,
                                        missing=("sst2: lora: no runs",) if verdict == Verdict.PENDING else ()))
            for key, verdict in verdicts.items()]


def test_the_answer_is_written_from_the_verdicts():
    text = answer(weighed({"full_beats_peft": Verdict.HOLDS, "random_competitive": Verdict.INCONCLUSIVE,
                           "gradient_statistics_order": Verdict.CONTRADICTED, "subset_hurts_mlm": Verdict.HOLDS,
                           "subset_hurts_adaptation": Verdict.PENDING}), "200 runs of minilm-l6")
    assert text.startswith("On 200 runs of minilm-l6, the paper's 5 claims checked here come out as follows: holds: 2, "
                           "contradicted: 1, inconclusive at this scale: 1, pending: 1")
    assert "a tuned random subset, is inconclusive at this scale under an equivalence margin of 0.01" in text
    assert "combined > downstream > pretraining statistics is contradicted here" in text
    assert "mlm: holds; adaptation: pending" in text and "Pending claims lack runs" in text
    assert "so far" not in text
    so_far = {"subset_hurts_adaptation": Evidence(Verdict.INCONCLUSIVE, "x", "a test", tasks=("sst2",))}
    assert answer(weighed({"subset_hurts_adaptation": Verdict.PENDING}), "2 runs", so_far).endswith(
        "Weighed so far on the tasks whose runs are all in (not verdicts: the claims speak of every task), 1 of the "
        "pending claims come out as inconclusive at this scale: 1.")


def test_the_table_has_one_row_per_claim_with_its_page_linked():
    table = findings_table(weighed({"full_beats_peft": Verdict.HOLDS, "lora_top_two": Verdict.PENDING}))
    assert list(table["verdict"]) == ["holds", "pending"]
    assert table.loc[0, "page"] == "{doc}`01_selection_strategies`"  # resolves for executed and placeholder pages
    assert table.loc[1, "ours (95% CI, n)"] == "pending (1 cell(s) incomplete)"
    assert "0.9468" in table.loc[0, "paper"]  # Table 1, full fine-tuning on SST-2


def test_a_pending_claims_interim_is_shown_as_so_far_and_its_verdict_stays_pending():
    rows = weighed({"full_beats_peft": Verdict.PENDING, "lora_top_two": Verdict.PENDING})
    so_far = Evidence(Verdict.HOLDS, "full - bitfit: +0.0300", "paired t-test", 0.03, 0.02, 0.04, 5, 0.001,
                      tasks=("sst2",))
    table = findings_table(rows, {"full_beats_peft": so_far})
    assert list(table["verdict"]) == ["pending", "pending"]
    assert table.loc[0, "ours (95% CI, n)"] == ("pending (1 cell(s) incomplete); so far, on sst2 (1 of 4 tasks): "
                                               "holds; full - bitfit: +0.0300")
    assert (table.loc[0, "test"], table.loc[0, "p"]) == ("paired t-test", "0.001")
    assert table.loc[1, "ours (95% CI, n)"] == "pending (1 cell(s) incomplete)"


def test_markdown_table_keeps_each_row_on_one_line():
    text = markdown_table(pd.DataFrame({"a": ["x|y"], "b": ["two\nlines"]}))
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | two lines |"]


def test_missing_runs_lists_only_pending_claims():
    text = missing_runs(weighed({"full_beats_peft": Verdict.HOLDS, "lora_top_two": Verdict.PENDING}))
    assert text.count("\n") == 0 and "LoRA is among the top two" in text and "sst2: lora: no runs" in text
    assert missing_runs(weighed({"full_beats_peft": Verdict.HOLDS})) == ""


def test_details_are_formatted_for_reading():
    details = pd.DataFrame({"comparison": ["a - b"], "difference": [0.012345], "p (Holm)": [0.000123]})
    shown = details_table(Evidence(Verdict.HOLDS, "", "", details=details))
    assert shown.iloc[0].tolist() == ["a - b", "+0.0123", "0.000123"]


def paper_text() -> str:
    """The paper's text with line numbers, hyphenation at line ends and italics markers removed."""
    text = re.sub(r"</?i>", "", PAPER.read_text(encoding="utf-8")).replace("’", "'")
    text = re.sub(r"(?m)^\s*\d{3}\t", "", text)
    text = re.sub(r"(?m)\t\d{3}\s*$", "", text)
    text = re.sub(r"-\s*\n\s*", "", text)
    return re.sub(r"\s+", " ", text).lower()


@needs_paper
@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.key)
def test_every_quote_is_the_papers_words(claim):
    text = paper_text()
    fragments = [part.strip() for quote in re.findall(r'"([^"]+)"', claim.quote) for part in quote.split("[...]")]
    assert fragments
    for fragment in fragments:
        assert re.sub(r"\s+", " ", fragment.lower()) in text, fragment


NAMES = {"Full fine-tuning": "full", "LoRA (rank 4)": "lora", "Random subset": "random", "Bitfit": "bitfit",
         "Largest pretr. sq-grad": "largest_pretrain_sqgrad", "Largest downstr. sq-grad": "largest_downstream_sqgrad",
         "Combined gradient stats": "combined", "Pruning with re-training": "diff_pruning",
         "Pruning w/o re-training": "diff_pruning_no_retrain", "Regularized FT (L1, 0.01)": "full+l1:0.01",
         "Regularized FT (L1, 0.10)": "full+l1:0.1", "Regularized FT (L2, 0.01)": "full+l2:0.01",
         "Regularized FT (L2, 0.10)": "full+l2:0.1"}
PAIR = r"(-?\d\.\d{4}) ± (\d\.\d{4})"


@needs_paper
def test_the_tables_the_claims_read_are_the_papers():
    rows: dict[int, dict] = {}
    lines = PAPER.read_text(encoding="utf-8").splitlines()
    for line in lines:
        name = line.split("\t")[0]
        if name in NAMES:  # Table 1 rows hold 4 scores, Table 3 rows 5
            pairs = tuple((float(m), float(s)) for m, s in re.findall(PAIR, line))
            rows.setdefault(len(pairs), {})[NAMES[name]] = pairs
    assert rows[4] == TABLE1 and rows[5] == TABLE3
    start = next(i for i, line in enumerate(lines) if line.startswith("Subset size\tVariant"))
    end = next(i for i, line in enumerate(lines) if line.startswith("Table 8:"))
    table8 = [tuple((float(m), float(s)) for m, s in re.findall(PAIR, line)) for line in lines[start:end]
              if len(re.findall(PAIR, line)) == 5]
    assert table8 == [row for rows_ in TABLE8.values() for row in rows_.values()]
    assert "baseline (full ft on pretrained) of 0.8724 (0.0023)" in lines[end]


def test_the_findings_page_runs_on_a_store_and_lists_what_is_missing(tmp_path, study_data):
    import nbformat
    import papermill

    reference = tmp_path / "reference"
    for i, task in enumerate(FIG3_SCOPE):
        write(reference, study(task, ["random", "largest_downstream_sqgrad", "combined"], sizes=SIZES),
              truth_scorer({"random": 0.80, "largest_downstream_sqgrad": 0.86, "combined": 0.87}, noise=0.002, seed=i))
    output = tmp_path / "00.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / "00_findings.ipynb"), str(output), cwd=str(tmp_path),
                               progress_bar=False, parameters={"reference_dir": str(reference),
                                                               "data_dir": str(study_data)})
    outputs = [o for cell in nbformat.read(output, as_version=4).cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    markdown = "\n".join(str(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "**Is there an optimal subset of parameters to tune?**" in markdown
    assert "| At very small subsets (0.0001) the gradient selectors beat random." in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| At very small subsets (0.0001) the gradient"))
    assert "| holds | {doc}`03_subset_size` |" in row
    assert "sst2: full: no runs" in markdown  # Table 1's runs are not in this store
