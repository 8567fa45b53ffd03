"""How every book page opens: what the paper showed (its words, and its numbers from the
transcribed tables, `paper_table1` and `paper_generality`) and what we found (sentences the
findings code writes, each with its n and statistic). A page without results yet opens with
the paper's side, the commands that compute ours and the expected time.

Everything here is Markdown text; nothing is computed from runs (the findings are passed in).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from repro.report import paper_generality
from repro.report.paper_table1 import TABLE1, TABLE1_TASKS
from repro.report.tables import format_share, mean_std_column, paper_table1_cell, score_header
from repro.runs.grid_files import section_path

PAPER_SETTING = "roberta-base, 5 seeds"


@dataclass(frozen=True)
class Section:
    """A book page: its notebook, the paper's figures and tables it reproduces, and the
    transcribed tables whose numbers its opening shows."""

    notebook: str
    paper: str
    tables: tuple[int, ...]


SECTIONS = {
    "selection_strategies": Section("01_selection_strategies", "Table 1", (1,)),
    "learning_rate": Section("02_learning_rate", "Figs. 2 and 4", ()),
    "subset_size": Section("03_subset_size", "Fig. 3, and Table 1 at BitFit's size", (1,)),
    "generality": Section("04_generality", "Tables 3, 6 and 7", (3,)),
    "task_similarity": Section("05_task_similarity", "Table 8", (8,)),
    "lora_rank": Section("06_lora_rank", "Tables 9 and 10, Fig. 6", (9,)),
    "regularization": Section("07_regularization", "Table 11", (11,)),
    "change_magnitude": Section("08_change_magnitude", "Fig. 5", ()),
}
GENERALITY_TABLES = {3: paper_generality.table3, 6: paper_generality.table6, 7: paper_generality.table7,
                     8: paper_generality.table8, 9: paper_generality.table9, 10: paper_generality.table10,
                     11: paper_generality.table11}


def section(name: str) -> Section:
    """The page of a grid section; ValueError naming the known ones."""
    if name not in SECTIONS:
        raise ValueError(f"unknown section {name!r}; sections: {sorted(SECTIONS)}")
    return SECTIONS[name]


def paper_numbers(number: int, variants: Sequence[str] | None = None, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """The paper's Table `number` (1, 3, 6-11) as shown: the keys as first columns, each measure
    one "mean ± std" column (`repro.report.tables.format_mean_std`), parameter shares as percentages. `variants`
    keeps those rows (in the paper's order); `tasks` keeps Table 1's task columns and the rows
    of those primary tasks elsewhere."""
    if number == 1:
        names = [t for t in TABLE1_TASKS if tasks is None or t in tasks]
        frame = pd.DataFrame({"variant": list(TABLE1)})
        for task in names:
            frame[f"{task}: {score_header([task])}"] = [paper_table1_cell(task, v) for v in TABLE1]
    elif number in GENERALITY_TABLES:
        raw = GENERALITY_TABLES[number]().reset_index()
        if tasks is not None and "primary_task" in raw:
            raw = raw[raw["primary_task"].isin(list(tasks))]
        frame = raw[[c for c in raw.columns if " paper " not in c]].copy()
        if "parameter share" in frame:
            frame["parameter share"] = frame["parameter share"].map(format_share)
        for measure in dict.fromkeys(c.rsplit(" paper ", 1)[0] for c in raw.columns if " paper " in c):
            frame[measure] = mean_std_column(raw[f"{measure} paper mean"], raw[f"{measure} paper std"])
    else:
        raise ValueError(f"the paper has no transcribed table {number!r}; tables: {[1, *GENERALITY_TABLES]}")
    if variants is not None and "variant" in frame:
        frame = frame[frame["variant"].isin(list(variants))]
    return frame.reset_index(drop=True)


def markdown_table(frame: pd.DataFrame) -> str:
    """A pipe table of `frame`'s columns (no index), cells as text; '|' in a cell is escaped."""
    def row(values) -> str:
        return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"
    return "\n".join([row(frame.columns), row(["---"] * len(frame.columns)),
                      *(row(values) for values in frame.itertuples(index=False))])


def commands(name: str, profile: str = "reference") -> str:
    """The two commands that compute a page's results on `profile` and execute it (a bash block);
    ValueError for a profile without a grid file for the section."""
    page = section(name)
    if not section_path(name, profile).is_file():
        raise ValueError(f"no grid file {section_path(name, profile)} for section {name!r} on profile {profile!r}")
    return (f"```bash\npython -m repro sweep grids/{profile}/{name}.yaml --executor local:workers=2\n"
            f"papermill notebooks/{page.notebook}.ipynb book/executed/{page.notebook}.ipynb -p profile {profile}\n```")


def opening(name: str, paper_text: str, *, found: Sequence[str] = (), numbers: Sequence[pd.DataFrame] = (),
            profile: str = "reference", minutes: float | None = None) -> str:
    """A page's opening in Markdown. "What the paper showed": the paper's figures and tables
    this page reproduces, `paper_text`, then each frame of `numbers` (`paper_numbers`; the
    setting is the paper's, roberta-base and 5 seeds). "What we found": the `found` sentences,
    one bullet each; with none the page has no results yet, and the opening says so, gives the
    commands (`commands`) and the expected time: `minutes` on `profile`, or, unknown, where
    the sweep's dry run estimates it."""
    page = section(name)
    parts = [f"**What the paper showed** (its {page.paper}; {PAPER_SETTING}). {paper_text.strip()}"]
    parts += [markdown_table(frame) for frame in numbers]
    if found:
        parts.append("**What we found.**\n\n" + "\n".join(f"- {sentence.strip()}" for sentence in found))
    else:
        time = (f"about {minutes:.0f} minutes" if minutes is not None else
                f"the dry run (`python -m repro sweep grids/{profile}/{name}.yaml --dry-run`) estimates it from "
                "finished runs")
        parts.append(f"**What we found.** Nothing yet: this page has no results on profile **{profile}**. "
                     f"These commands compute them and execute the page (expected time: {time}):\n\n"
                     + commands(name, profile))
    return "\n\n".join(parts)
