"""From stored runs to the tidy tables the findings read: per cell, per seed at the chosen rate,
and section 4's measures (`repro.findings.measures`).

A *cell* is one study's runs of one (task, variant, subset size) that differ only in seed and
learning rate (`repro.runs.learning_rate.summarise`, which chooses the rate with the best mean
validation score, never one at which a seed diverged). Cells of one *study* (the same model,
data sizes, schedule, threads, ...: `PAIRING_FIELDS`) and task share seeds and decoders, so
their runs pair by seed. A cell is *complete* when every seed of its study and task finished
(ok or diverged) at every learning rate it tried; claims treat incomplete cells as pending.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from repro.runs.keys import plain, plain_key
from repro.findings.measures import GENERALITY_COLUMNS, SECONDARY_COLUMNS, generality_tables, mlm_probes
from repro.runs.learning_rate import STUDY_FIELDS, summarise
from repro.runs.store import FINISHED, ResultStore

# Config fields that make a variant (they differ between the cells of one study), and the rest.
VARIANT_FIELDS = ("selector", "subset_size", "lora_rank", "regularization", "regularization_strength",
                  "pruning_l1", "pruning_learning_rate")
PAIRING_FIELDS = tuple(f for f in STUDY_FIELDS if f not in VARIANT_FIELDS + ("task",))
CELL_COLUMNS = ["study", "task", "variant", "subset_size"]
SEED_COLUMNS = CELL_COLUMNS + ["fraction", "seed", "learning_rate", "at_edge", "validation", "test", "train", "gap",
                               "run_id", "complete"]


@dataclass(frozen=True)
class RunTables:
    """`cells`: one row per cell (CELL_COLUMNS, fraction, chosen learning_rate, at_edge, grid,
    n_seeds at the chosen rate, seeds_expected, unfinished (rate, seed) pairs, complete).
    `seeds`: one row per ok run at its cell's chosen rate (SEED_COLUMNS; gap = test - train).
    `generality` and `secondary`: section 4's measures of the primary runs that were measured
    (`repro.findings.measures.generality_tables`)."""

    cells: pd.DataFrame
    seeds: pd.DataFrame
    generality: pd.DataFrame
    secondary: pd.DataFrame


def load(root: str | Path) -> RunTables:
    """The tables of a results or reference folder: its runs (`ResultStore(root).to_frame()`)
    and its MLM probe records (`<root>/probes/mlm`)."""
    return tables(ResultStore(root).to_frame(), mlm_probes(root))


def tables(frame: pd.DataFrame, probes: pd.DataFrame | None = None) -> RunTables:
    """`RunTables` of a results frame (`ResultStore.to_frame()`) and MLM probe values (`mlm_probes`;
    None: none). An empty frame gives empty tables."""
    if frame.empty:
        return RunTables(pd.DataFrame(columns=CELL_COLUMNS + ["complete"]), pd.DataFrame(columns=SEED_COLUMNS),
                         pd.DataFrame(columns=GENERALITY_COLUMNS), pd.DataFrame(columns=SECONDARY_COLUMNS))
    frame = frame.assign(study=[study_label(row) for _, row in frame.iterrows()])
    primary = frame[frame["init_from"].isna()]
    cells = _cells(primary)
    probes = probes if probes is not None else pd.DataFrame(columns=["subject", "setting", "value"])
    return RunTables(cells, _seeds(primary, cells), *generality_tables(frame, probes))


def study_label(row: pd.Series) -> str:
    """A study's name: model, train size, epochs and a short hash of every `PAIRING_FIELDS` value."""
    values = {f: plain(row.get(f)) for f in PAIRING_FIELDS}
    digest = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:6]
    train = "all" if values.get("train_size") is None else f"{values['train_size']:,}"
    return f"{values.get('model')}, train {train}, {values.get('epochs')} epochs [{digest}]"


def _cell_key(frame: pd.DataFrame) -> pd.Series:
    return plain_key(frame, [c for c in STUDY_FIELDS if c in frame.columns])


def _cells(primary: pd.DataFrame) -> pd.DataFrame:
    summary = summarise(primary.drop(columns=["study"]))
    summary = summary.assign(key=_cell_key(summary), variant=summary["selector"],
                             study=[study_label(row) for _, row in summary.iterrows()])
    runs = dict(tuple(primary.assign(key=_cell_key(primary)).groupby("key")))
    expected = primary.groupby(["study", "task"])["seed"].agg(lambda s: frozenset(int(x) for x in s))
    rows = []
    for cell in summary.itertuples():
        seeds = expected[(cell.study, cell.task)]
        finished = {(float(r.learning_rate), int(r.seed)) for r in runs[cell.key].itertuples() if r.status in FINISHED}
        rows.append(sum((float(lr), s) not in finished for lr in cell.grid for s in seeds))
    out = summary.assign(seeds_expected=[len(expected[(c.study, c.task)]) for c in summary.itertuples()],
                         unfinished=rows)
    out["complete"] = (out["unfinished"] == 0) & out["learning_rate"].notna()
    out = out.sort_values(["task", "variant", "subset_size"], na_position="first", kind="stable")
    return out[CELL_COLUMNS + ["fraction", "learning_rate", "at_edge", "grid", "n_seeds", "seeds_expected",
                               "unfinished", "complete", "key"]].reset_index(drop=True)


def _seeds(primary: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    ok = primary[primary["status"] == "ok"]
    keyed = ok.assign(key=_cell_key(ok))
    chosen = cells.dropna(subset=["learning_rate"])[["key", "variant", "learning_rate", "at_edge", "fraction", "complete"]]
    rows = keyed.drop(columns=["fraction"], errors="ignore").merge(chosen, on=["key", "learning_rate"])
    rows = rows.assign(validation=rows["metric_validation"].astype(float), test=rows["metric_test"].astype(float),
                       train=rows["metric_train"].astype(float) if "metric_train" in rows else np.nan)
    rows = rows.assign(gap=rows["test"] - rows["train"], subset_size=rows["subset_size"].astype(float),
                       seed=rows["seed"].astype(int))
    return rows[SEED_COLUMNS].sort_values(CELL_COLUMNS[1:] + ["seed"], na_position="first").reset_index(drop=True)
