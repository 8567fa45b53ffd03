"""The sentences pages 04-07 write from section 4's tables (`repro.report.findings`): ours
ranked or traced beside the paper's values, never "as in the paper" from a ranking of means."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from repro.report.findings import (generality_statements, lora_rank_statement, pending_measures,
                                   pretrained_mlm_sentence, regularization_trends)
from repro.runs.store import NotComputed


def test_pending_measures_names_no_folder():
    error = NotComputed("2 base run(s) of ['trec6'] is not in results or the reference reference, and ...")
    assert pending_measures(error) == "2 base run(s) of ['trec6']"


def table3(**means) -> pd.DataFrame:
    """Table 3 of three variants: for each measure given, their means (std 0.01, n 3)."""
    table = pd.DataFrame(index=pd.Index(["full", "bitfit", "random"], name="variant"))
    for measure, values in means.items():
        table[f"{measure} mean"], table[f"{measure} std"], table[f"{measure} n"] = values, 0.01, 3
    return table


def test_generality_statements_rank_ours_beside_the_papers_same_variants():
    lines = generality_statements(table3(gap=[-0.05, 0.02, -0.01], mlm_diff=[-0.03, -0.03, -0.03]))
    gap, mlm, caveat = lines
    assert caveat == "These order means and test nothing (the claims above do)."
    assert gap.startswith("**Gap** (test minus train score; mean ± std over 3 values per variant): highest bitfit "
                          "(+0.0200 ± 0.0100), lowest full (-0.0500 ± 0.0100); full fine-tuning ranks 3 of 3")
    # the paper's Table 3: bitfit -0.0066, random -0.0245, full -0.0402
    assert gap.endswith("The paper's Table 3, same variants: highest bitfit (-0.0066), lowest full (-0.0402); "
                        "full fine-tuning ranks 3.")
    assert mlm == ("**MLM probe** (precision@1 minus the pretrained encoder's): the same mean for all 3 variants "
                   "(-0.0300 ± 0.0100), so no order.")
    assert not any("as in the paper" in line for line in lines)


def test_pretrained_mlm_sentence_says_what_the_papers_tables_imply():
    text = pretrained_mlm_sentence(pd.DataFrame({"mlm": [0.30], "mlm_diff": [-0.05]}))
    assert text.startswith("The pretrained encoder's precision@1 under the same probe: 0.3500.")
    assert "imply about 0.445" in text and "span 0.2354 to 0.4149" in text  # (0.3756+0.4067+0.3957+0.3669)/4+0.0584


def test_lora_rank_statement_counts_rising_steps_beside_the_paper():
    table = pd.DataFrame({"rank": [1, 4, 64], "sst2 mean": [0.80, 0.85, 0.84], "sst2 n": [3, 3, 2]},
                         index=["lora:1", "lora", "lora:64"])
    text = lora_rank_statement(table, ["sst2"])
    # the paper's SST-2: 0.9353 (1), 0.9406 (4), 0.9399 (64)
    assert text == ("**Rank.**\n\n- **sst2** (mean over 2 to 3 seeds per rank): highest at rank 4 (0.8500), rises at 1 "
                    "of 2 steps of the rank; the paper's Table 9 at the same ranks: highest at rank 4 (0.9406), rises "
                    "at 1 of 2 steps of the rank.\n\nThese compare means and test nothing.")
    assert lora_rank_statement(table.iloc[:1], ["sst2"]) == ""


def test_regularization_trends_list_every_coefficient_and_the_papers_values():
    index = pd.MultiIndex.from_tuples([("sst2", v) for v in ("full+l1:1", "full+l1:0.1", "full+l1:0.01")],
                                      names=["task", "variant"])
    table = pd.DataFrame({"primary_test mean": [0.5, 0.9, 0.8], "primary_test n": [3, 3, 3],
                          "gap mean": [0.0, -0.01, -0.05], "mlm mean": [0.4, np.nan, 0.3]}, index=index)
    text = regularization_trends(table)
    assert text.startswith("**Trends** (our means over 3 seeds per cell")
    assert ("**sst2, L1** from 0.01 to 1: primary 0.8000 → 0.9000 → 0.5000, gap -0.0500 → -0.0100 → +0.0000, "
            "MLM 0.3000 → — → 0.4000; the paper: primary 0.9326 → 0.9177 → 0.8711") in text


@pytest.mark.parametrize("statement", [generality_statements(table3()), lora_rank_statement(
    pd.DataFrame({"rank": [], "sst2 mean": [], "sst2 n": []}), ["sst2"]), lora_rank_statement(
    pd.DataFrame(columns=["rank", "share"]), ["sst2"])])
def test_no_statement_without_values(statement):
    assert not statement
