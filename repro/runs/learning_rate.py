"""From a results table to the paper's summaries: learning-rate choice on validation, test
scores as mean +- std over seeds, and the edge-of-grid flag."""
from __future__ import annotations

import numpy as np
import pandas as pd

CELL = ["model", "task", "selector", "subset_size"]


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, task, selector, subset size) of `ResultStore.to_frame()`.

    The learning rate is the one with the best mean validation score over its `ok` seeds,
    among the rates at which no seed diverged (a rate is never chosen on the survivors); failed
    runs never count, but their rates still belong to the grid. `at_edge`
    is True when the choice is the smallest or largest rate tried (a one-value grid is
    always at the edge: the choice was not tested). Test scores at that rate give
    test_mean, test_std (ddof=1, NaN for one seed) and n_seeds. `fraction` is the realised
    share of encoder parameters trained. Runs that started from another run's encoder
    (`init_from`: secondary tasks of section 4) are not cells of a study and are left out.
    """
    if "init_from" in frame:
        frame = frame[frame["init_from"].isna()]
    if frame.empty:
        raise ValueError("no results to summarise")
    frame = frame.assign(subset_size=frame["subset_size"].astype(float).fillna(-1.0))  # -1: the selector's default
    rows = []
    for key, cell in frame.groupby(CELL, sort=True):
        grid = sorted(cell["learning_rate"].unique())
        ok = cell[cell["status"] == "ok"]
        row = dict(zip(CELL, key), fraction=cell["sel_fraction"].dropna().max() if "sel_fraction" in cell else np.nan,
                   grid=grid, n_diverged=int((cell["status"] == "diverged").sum()),
                   n_failed=int((cell["status"] == "failed").sum()),
                   learning_rate=np.nan, val_mean=np.nan, at_edge=False, test_mean=np.nan, test_std=np.nan, n_seeds=0)
        unstable = set(cell.loc[cell["status"] == "diverged", "learning_rate"])
        ok = ok[~ok["learning_rate"].isin(unstable)]
        if not ok.empty:
            means = ok.groupby("learning_rate")["metric_validation"].mean()
            best = float(means.idxmax())
            scores = ok.loc[ok["learning_rate"] == best, "metric_test"].to_numpy(dtype=float)
            row.update(learning_rate=best, val_mean=float(means.max()), at_edge=best in (grid[0], grid[-1]),
                       test_mean=float(scores.mean()), test_std=float(scores.std(ddof=1)) if len(scores) > 1 else np.nan,
                       n_seeds=len(scores))
        row["subset_size"] = np.nan if row["subset_size"] == -1.0 else row["subset_size"]  # NaN: the default size
        rows.append(row)
    return pd.DataFrame(rows)


def chosen_runs(summary: pd.DataFrame, configs: list) -> list:
    """Every seed's RunConfig of each summary cell (task, variant, subset size) at the cell's
    chosen learning rate, in the summary's order; cells without a chosen rate are left out."""
    chosen = []
    for _, row in summary.dropna(subset=["learning_rate"]).iterrows():
        for config in configs:
            size_matches = (config.subset_size is None) if np.isnan(row["subset_size"]) else config.subset_size == row["subset_size"]
            if (config.variant == row["selector"] and config.task == row["task"] and size_matches
                    and config.learning_rate == row["learning_rate"]):
                chosen.append(config)
    return chosen


def chosen_configs(summary: pd.DataFrame, configs: list, seed: int) -> dict[str, object]:
    """Per variant of `summary` (one task), the RunConfig of `seed` at its chosen learning rate
    and subset size (`chosen_runs`); variants without a chosen rate are left out."""
    return {config.variant: config for config in chosen_runs(summary, configs) if config.seed == seed}
