"""Section 4's tables (the generality pages) beside the paper's: our `repro.generality.measures.assess`
rows aggregated, and the paper's Tables 3 and 6-11 under our measures' names.

One column scheme throughout: `<measure> mean`, `<measure> std`, `<measure> n` for ours and
`<measure> paper mean`, `<measure> paper std` for the paper's; shown as "<label>" and "<label>: paper".
"""
from __future__ import annotations

import pandas as pd

from repro.report import paper_generality
from repro.report.generality_tables import aggregate, by_secondary_task, formatted
from repro.report.tables import book_table, format_share

PAPER_TABLES = {3: paper_generality.table3, 6: paper_generality.table6, 7: paper_generality.table7,
                8: paper_generality.table8, 9: paper_generality.table9, 10: paper_generality.table10,
                11: paper_generality.table11}
# The paper's measure names (repro.report.paper_generality) -> ours (repro.generality.measures)
OURS = {"primary": "primary_test", "secondary_diff": "secondary_full_diff"}
OURS_TABLE3 = {"primary": "primary_diff", "mlm": "mlm_diff", "secondary": "secondary_full_diff",
               "secondary_decoder": "secondary_decoder_diff"}  # Table 3 gives differences
KINDS = ("mean", "std", "n")


def paper_values(number: int) -> pd.DataFrame:
    """The paper's Table `number` (3, 6-11) with our measure names ("<measure> paper mean" / "std")
    and our index names (`task` for the paper's `primary_task`)."""
    if number not in PAPER_TABLES:
        raise ValueError(f"the paper has no generality table {number!r}; tables: {sorted(PAPER_TABLES)}")
    names = OURS_TABLE3 if number == 3 else OURS
    frame = PAPER_TABLES[number]()
    renamed = {}
    for column in frame.columns:
        measure, paper, kind = column.rpartition(" paper ")
        renamed[column] = f"{names.get(measure, measure)}{paper}{kind}" if paper else column
    frame = frame.rename(columns=renamed)
    return frame.rename_axis(index=["task" if name == "primary_task" else name for name in frame.index.names])


def secondary_columns(rows: pd.DataFrame, keys: list[str], measures: tuple[str, ...]) -> pd.DataFrame:
    """Per secondary task and measure of `measures` ("secondary_full", "secondary_decoder"), the
    `by_secondary_task` triple, task by task; named "<task>" for one measure, else "<task> full",
    "<task> decoder"."""
    columns = {}
    for position, measure in enumerate(measures):
        suffix = "" if len(measures) == 1 else f" {measure.removeprefix('secondary_')}"
        part = by_secondary_task(rows, keys, measure)
        for column in part.columns:
            task, kind = column.rsplit(" ", 1)
            columns[(task, position, KINDS.index(kind))] = part[column].rename(f"{task}{suffix} {kind}")
    return pd.concat([columns[key] for key in sorted(columns)], axis=1) if columns else pd.DataFrame()


def beside_paper(rows: pd.DataFrame, keys: list[str], measures: tuple[str, ...], number: int, *,
                 secondary: tuple[str, ...] = (), mark_within: str | None = None) -> tuple[pd.DataFrame, str]:
    """Our table of `measures` per group of `keys` (`aggregate`), then the columns of `secondary`
    (`secondary_columns`), and its HTML beside the paper's Table `number` (best bold, second
    italics, within each group of index level `mark_within`, whose groups are kept together;
    shown by `book_table`, the keys first). Returns (numeric table, HTML)."""
    table = aggregate(rows, keys, measures)
    extra = secondary_columns(rows, keys, secondary) if secondary else pd.DataFrame()
    if not extra.empty:
        table = table.join(extra)
    if mark_within is not None and not table.empty:
        table = pd.concat([group for _, group in table.groupby(level=mark_within, sort=True)])
    shown = list(measures) + list(dict.fromkeys(c.rsplit(" ", 1)[0] for c in extra.columns))
    html = book_table(formatted(table, shown, mark_within=mark_within, paper=paper_values(number))).to_html()
    return table, html


def lora_rank_html(table: pd.DataFrame, tasks: list[str]) -> str:
    """Table 9 beside the paper: per LoRA variant its rank, its adapters' share of the encoder
    (ours and the paper's, `format_share`) and the test score per task. `table`: `lora_rank_table`."""
    paper = paper_values(9)
    shares = pd.DataFrame({"rank": table["rank"], "share of encoder": table["share"].map(format_share),
                           "share: paper": paper["parameter share"].reindex(table.index).map(format_share)})
    return book_table(shares.join(formatted(table, tasks, paper=paper))).to_html()
