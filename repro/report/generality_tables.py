"""Tables of section 4 from `repro.generality.measures.assess` rows: means and spreads over seeds (and
secondary tasks), best and second best marked, the paper's values beside ours.

Primary-level measures (primary score, gap, MLM) are averaged over primary runs, each counted
once however many secondary tasks it has; secondary measures over (primary run, secondary
task) rows. Rows whose status is not "ok" are left out (their count is reported).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from repro.report.tables import format_mean_std, mean_std_column
from repro.variants.registry import variant_fields

PRIMARY_MEASURES = ("primary_test", "primary_diff", "gap", "mlm", "mlm_diff")
LABELS = {"primary_test": "primary", "primary_diff": "prim. diff", "gap": "gap", "mlm": "MLM p@1",
          "mlm_diff": "MLM diff", "secondary_full": "sec.", "secondary_full_diff": "sec. diff",
          "secondary_decoder": "sec. (decoder)", "secondary_decoder_diff": "sec. (decoder) diff"}


def ok_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == "ok"]


def _spread(grouped, name: str) -> pd.DataFrame:
    """`<name> mean`, `<name> std` (ddof 1, NaN for one value) and `<name> n` per group."""
    return pd.DataFrame({f"{name} mean": grouped.mean(), f"{name} std": grouped.std(ddof=1),
                         f"{name} n": grouped.count()})


def aggregate(frame: pd.DataFrame, keys: list[str], measures: tuple[str, ...]) -> pd.DataFrame:
    """Per group of `keys`: `<measure> mean`, `<measure> std` (ddof 1, NaN for one value) and
    `<measure> n` of the ok rows; primary measures count each primary run once."""
    rows = ok_rows(frame)
    parts = []
    for measure in measures:
        if measure not in rows:
            continue
        source = rows.drop_duplicates("run_id") if measure in PRIMARY_MEASURES else rows.dropna(subset=[measure])
        parts.append(_spread(source.groupby(keys, sort=False)[measure], measure))
    return pd.concat(parts, axis=1) if parts else pd.DataFrame()


def by_secondary_task(frame: pd.DataFrame, keys: list[str], measure: str = "secondary_full") -> pd.DataFrame:
    """Per group of `keys`, one `<task> mean` / `<task> std` / `<task> n` triple per secondary task
    (Table 7's columns): `measure` of the runs that started from the group's primary runs."""
    rows = ok_rows(frame).dropna(subset=["secondary_task", measure])
    parts = []
    for task, group in rows.groupby("secondary_task", sort=True):
        parts.append(_spread(group.groupby(keys, sort=False)[measure], task))
    return pd.concat(parts, axis=1) if parts else pd.DataFrame()


def _marks(means: pd.Series) -> dict:
    """Row label -> "best" / "second" for the highest and second-highest distinct means."""
    values = sorted(set(means.dropna().round(12)), reverse=True)
    marks = {}
    for label, value in means.dropna().round(12).items():
        if values and value == values[0]:
            marks[label] = "best"
        elif len(values) > 1 and value == values[1]:
            marks[label] = "second"
    return marks


def formatted(table: pd.DataFrame, measures: list[str], *, mark_within: str | None = None,
              paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """HTML cells "mean ± std" per measure (`repro.report.tables.format_mean_std`; bold: best,
    italics: second best; higher is better, within each group of index level `mark_within`, or
    over all rows), with the paper's value in a column beside each measure when `paper` has
    `<measure> paper mean` / `... std`. The first column `n` counts the values behind the first
    measure's mean; a measure resting on other counts gets its own "<label> n" column. Show it
    with `repro.report.tables.book_table` (the index becomes the key columns)."""
    out = pd.DataFrame(index=table.index)
    groups = [table] if mark_within is None else [g for _, g in table.groupby(level=mark_within, sort=False)]
    shown = [m for m in measures if f"{m} mean" in table]
    for measure in shown:
        marks = {}
        for group in groups:
            marks.update(_marks(group[f"{measure} mean"]))
        cells = []
        for label, row in table.iterrows():
            text = format_mean_std(row[f"{measure} mean"], row[f"{measure} std"])
            style = marks.get(label)
            cells.append(f"<b>{text}</b>" if style == "best" else f"<i>{text}</i>" if style == "second" else text)
        name = LABELS.get(measure, measure)
        out[name] = cells
        if measure != shown[0] and not table[f"{measure} n"].equals(table[f"{shown[0]} n"]):
            out[f"{name} n"] = table[f"{measure} n"].astype("Int64")
        if paper is not None and f"{measure} paper mean" in paper:
            aligned = paper.reindex(table.index)
            out[f"{name}: paper"] = mean_std_column(aligned[f"{measure} paper mean"], aligned[f"{measure} paper std"])
    if shown:
        out.insert(0, "n", table[f"{shown[0]} n"].astype("Int64"))
    return out


def status_counts(frame: pd.DataFrame) -> pd.Series:
    """How many rows ended in each status (ok, diverged, failed, probe failed, secondary ...)."""
    return frame.drop_duplicates(["run_id", "secondary_task"] if "secondary_task" in frame else ["run_id"])[
        "status"].value_counts()


def lora_rank_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Table 9 from `repro.runs.learning_rate.summarise` rows of LoRA variants ("lora", "lora:16", ...:
    the variants whose fields set a `lora_rank`): per variant its rank, its adapters' share of the
    encoder, and per task `<task> mean`, `<task> std`, `<task> n` of the test score at the chosen
    rate; sorted by rank."""
    ranks = {v: variant_fields(v).get("lora_rank") for v in summary["selector"].unique()}
    ranks = {v: rank for v, rank in ranks.items() if rank is not None}
    rows = summary[summary["selector"].isin(list(ranks))]
    table = pd.DataFrame(index=pd.Index(sorted(ranks, key=ranks.get), name="variant"))
    table["rank"] = [ranks[v] for v in table.index]
    table["share"] = rows.groupby("selector")["fraction"].max().reindex(table.index)
    for task, group in rows.groupby("task", sort=True):
        group = group.set_index("selector").reindex(table.index)
        table[f"{task} mean"], table[f"{task} std"], table[f"{task} n"] = (
            group["test_mean"], group["test_std"], group["n_seeds"])
    return table
