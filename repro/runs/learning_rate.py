"""From a results table to the paper's summaries: learning-rate choice on validation, test
scores as mean +- std over seeds, and the edge-of-grid flag."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from repro.runs.config import RunConfig
from repro.runs.keys import plain, plain_key
from repro.runs.store import config_row

CELL = ["model", "task", "selector", "subset_size"]
# A cell is one study's runs that differ only in seed and learning rate: every other config
# field (train size, epochs, max length, decoder, threads, ...) keeps two studies apart.
STUDY_FIELDS = CELL + [f.name for f in dataclasses.fields(RunConfig)
                       if f.name not in CELL + ["seed", "learning_rate", "init_from"]]
PENDING = "pending"  # the status of an expected run without a stored result


def summarise(frame: pd.DataFrame, expected: list[RunConfig] | None = None) -> pd.DataFrame:
    """One row per cell of `ResultStore.to_frame()`: the runs that share every config field
    (`STUDY_FIELDS`, those present in `frame`) but seed and learning rate, so runs of different
    studies (two train sizes, two max lengths of one variant) are never pooled as seeds.

    The learning rate is the one with the best mean validation score over its `ok` seeds,
    among the rates at which no seed diverged (a rate is never chosen on the survivors); failed
    runs never count, but their rates still belong to the grid. `expected`: the runs the cells
    should hold; those without a row in `frame` are pending (`n_pending`), and a cell with a
    pending run gets no choice (learning_rate and scores NaN), never one on partial seeds.
    `at_edge` is True when the choice is the smallest or largest rate tried (a one-value grid is
    always at the edge: the choice was not tested). Test scores at that rate give test_mean,
    test_std (ddof=1, NaN for one seed) and n_seeds. `fraction` is the realised share of encoder
    parameters trained. Runs that started from another run's encoder (`init_from`: secondary
    tasks of section 4) are not cells of a study and are left out.
    """
    frame = _with_pending(frame, expected or [])
    if "init_from" in frame:
        frame = frame[frame["init_from"].isna()]
    if frame.empty:
        raise ValueError("no results to summarise")
    frame = frame.assign(subset_size=frame["subset_size"].astype(float).fillna(-1.0))  # -1: the selector's default
    keys = [c for c in STUDY_FIELDS if c in frame.columns]
    cells = frame.groupby(plain_key(frame, keys), sort=False)
    rows = [_summarise_cell(cell, keys) for _, cell in cells]
    order = [c for c in CELL if c in keys]
    summary = pd.DataFrame(rows).sort_values(order, kind="stable", na_position="first").reset_index(drop=True)
    summary["subset_size"] = summary["subset_size"].where(summary["subset_size"] != -1.0)  # NaN: the default size
    return summary


def _summarise_cell(cell: pd.DataFrame, keys: list[str]) -> dict:
    grid = sorted(cell["learning_rate"].unique())
    status = cell["status"]
    row = dict(cell.iloc[0][keys])
    row.update(fraction=cell["sel_fraction"].dropna().max() if "sel_fraction" in cell else np.nan, grid=grid,
               n_diverged=int((status == "diverged").sum()), n_failed=int((status == "failed").sum()),
               n_pending=int((status == PENDING).sum()), learning_rate=np.nan, val_mean=np.nan, at_edge=False,
               test_mean=np.nan, test_std=np.nan, n_seeds=0)
    unstable = set(cell.loc[status == "diverged", "learning_rate"])
    ok = cell[(status == "ok") & ~cell["learning_rate"].isin(unstable)]
    if not ok.empty and row["n_pending"] == 0:
        means = ok.groupby("learning_rate")["metric_validation"].mean()
        best = float(means.idxmax())
        scores = ok.loc[ok["learning_rate"] == best, "metric_test"].to_numpy(dtype=float)
        row.update(learning_rate=best, val_mean=float(means.max()), at_edge=best in (grid[0], grid[-1]),
                   test_mean=float(scores.mean()), test_std=float(scores.std(ddof=1)) if len(scores) > 1 else np.nan,
                   n_seeds=len(scores))
    return row


def _with_pending(frame: pd.DataFrame, expected: list[RunConfig]) -> pd.DataFrame:
    """`frame` plus one row of status `PENDING` per expected run it lacks."""
    present = set(frame["run_id"]) if "run_id" in frame else set()
    pending = [config_row(c) | {"status": PENDING} for c in expected if c.run_id() not in present]
    return pd.concat([frame, pd.DataFrame(pending)], ignore_index=True) if pending else frame


def chosen_runs(summary: pd.DataFrame, configs: list) -> list:
    """Every seed's RunConfig of each summary cell at the cell's chosen learning rate, in the
    summary's order (a config belongs to a cell when it has the cell's value of every study
    field the summary holds; runs with `init_from` belong to none); cells without a chosen rate
    are left out."""
    keys = [c for c in STUDY_FIELDS if c in summary.columns]
    rows = {id(config): config_row(config) for config in configs if config.init_from is None}
    chosen = []
    for _, cell in summary.dropna(subset=["learning_rate"]).iterrows():
        wanted = [plain(cell[k]) for k in keys]
        for config in configs:
            row = rows.get(id(config))
            if row is not None and row["learning_rate"] == cell["learning_rate"] and [plain(row[k]) for k in keys] == wanted:
                chosen.append(config)
    return chosen


def chosen_configs(summary: pd.DataFrame, configs: list, seed: int) -> dict[str, object]:
    """Per variant of `summary` (one task), the RunConfig of `seed` at its chosen learning rate
    and subset size (`chosen_runs`); variants without a chosen rate are left out."""
    return {config.variant: config for config in chosen_runs(summary, configs) if config.seed == seed}
