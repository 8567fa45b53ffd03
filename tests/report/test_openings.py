"""A page's opening: the paper's side from the transcribed tables, our findings, and, before a
page has results, the commands and the expected time."""
from __future__ import annotations

import re

import pytest

from repro.report.openings import SECTIONS, commands, markdown_table, opening, paper_numbers
from repro.runs.grid_files import SECTIONS as GRID_SECTIONS
from repro.runs.grid_files import section_path


def test_every_grid_section_has_a_page_and_its_notebook():
    assert set(SECTIONS) == set(GRID_SECTIONS)
    notebooks = section_path("subset_size", "cpu").parents[2] / "notebooks"
    assert all((notebooks / f"{page.notebook}.ipynb").is_file() for page in SECTIONS.values())


def test_paper_numbers_come_from_the_transcribed_tables():
    table1 = paper_numbers(1, ["bitfit", "full"], ["sst2"])
    assert list(table1.columns) == ["variant", "sst2: test accuracy"]
    assert table1.to_dict("list") == {"variant": ["full", "bitfit"], "sst2: test accuracy": ["0.947 ± 0.001", "0.938 ± 0.003"]}
    assert list(paper_numbers(1).columns)[1:] == ["conll03: test F1 (entity)", "qnli: test accuracy", "sst2: test accuracy",
                                                  "trec6: test accuracy"]
    table9 = paper_numbers(9, ["lora", "lora:64"])
    assert list(table9.columns[:3]) == ["variant", "rank", "parameter share"] and list(table9["rank"]) == [4, 64]
    assert table9["sst2"].iloc[0] == "0.941 ± 0.003" and table9["parameter share"].iloc[0].endswith("%")
    table11 = paper_numbers(11, tasks=["sst2"])
    assert set(table11["primary_task"]) == {"sst2"} and {"primary", "gap", "mlm"} <= set(table11.columns)
    assert not any(" paper " in column for column in table11.columns)
    with pytest.raises(ValueError, match=r"no transcribed table 2; tables: \[1, 3, 6, 7, 8, 9, 10, 11\]"):
        paper_numbers(2)


def test_markdown_table_escapes_pipes():
    table = markdown_table(paper_numbers(1, ["full"], ["sst2"]).assign(note=["a|b"]))
    assert table.splitlines() == ["| variant | sst2: test accuracy | note |", "| --- | --- | --- |",
                                  "| full | 0.947 ± 0.001 | a\\|b |"]


def test_opening_with_findings():
    text = opening("subset_size", "Gradient-based selectors beat random at very small subsets.",
                   found=["random vs downstream sq-grad at 1e-4: −0.021 [−0.035, −0.007], n = 5 seeds, paired t p = 0.01."],
                   numbers=[paper_numbers(1, ["random", "bitfit"], ["sst2"])])
    assert text.startswith("**What the paper showed** (its Fig. 3, and Table 1 at BitFit's size; roberta-base, 5 seeds). "
                           "Gradient-based selectors")
    assert "| random | 0.934 ± 0.003 |" in text
    assert "**What we found.**\n\n- random vs downstream sq-grad at 1e-4: −0.021" in text
    assert "papermill" not in text


def test_opening_of_a_page_without_results_gives_the_commands_and_the_time():
    text = opening("lora_rank", "The score grows with the rank.", minutes=42)
    assert "Nothing yet: this page has no results on profile **reference**" in text and "about 42 minutes" in text
    assert "python -m repro sweep grids/reference/lora_rank.yaml --executor local:workers=2" in text
    assert "papermill notebooks/06_lora_rank.ipynb book/executed/06_lora_rank.ipynb -p profile reference" in text
    unknown = opening("change_magnitude", "Small subsets move further.", profile="cpu")
    assert "grids/cpu/change_magnitude.yaml --dry-run`) estimates it" in unknown
    assert re.search(r"```bash\n.*\n.*\n```$", commands("generality"))
    with pytest.raises(ValueError, match="unknown section 'fig3'; sections: "):
        opening("fig3", "")
    with pytest.raises(ValueError, match="unknown profile 'gpu'"):
        commands("generality", "gpu")
