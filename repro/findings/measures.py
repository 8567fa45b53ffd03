"""Section 4's measures per primary run, from the stored records: the MLM probe and the secondary
tasks (`repro.generality.measures` computes them; this module only reads them).

The generality pages probe and adapt the primary runs at the rate *they* chose (on their own
seeds), which may differ from the rate chosen on every seed of a study, so these tables are
keyed by the runs that were measured: per cell, the measured rate (when several were, the one
with the best mean validation score over its measured seeds).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from repro.runs.keys import plain_key

GENERALITY_COLUMNS = ["study", "task", "variant", "subset_size", "seed", "learning_rate", "run_id", "mlm", "mlm_diff",
                      "secondary_diff"]
SECONDARY_COLUMNS = ["run_id", "secondary_task", "secondary_test", "base_test", "secondary_diff", "study", "task",
                     "variant", "subset_size", "seed"]
CONFIG_KEY = ["study", "task", "selector", "subset_size", "lora_rank", "regularization", "regularization_strength",
              "pruning_l1", "pruning_learning_rate", "decoder", "seed", "learning_rate"]


def mlm_probes(root: str | Path) -> pd.DataFrame:
    """MLM probe records of a folder (`<root>/probes/mlm/*.json`, `repro.generality.mlm_probe.ProbeStore`):
    one row per record with `subject` (a run id or "pretrained"), `setting` (model, data and probe
    as JSON text) and `value` (precision@1)."""
    rows = []
    for path in sorted((Path(root) / "probes" / "mlm").glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        identity = dict(record["identity"])
        subject = identity.pop("subject")
        rows.append({"subject": subject, "setting": json.dumps(identity, sort_keys=True, default=str),
                     "value": float(record["value"])})
    return pd.DataFrame(rows, columns=["subject", "setting", "value"])


def _mlm(probes: pd.DataFrame) -> pd.DataFrame:
    """Per probed run id: `mlm` and `mlm_diff` (minus the pretrained encoder under the same setting).
    ValueError when a run was probed under two settings (which one a claim means is unclear)."""
    runs = probes[probes["subject"] != "pretrained"]
    doubled = runs["subject"][runs["subject"].duplicated()]
    if len(doubled):
        raise ValueError(f"run {doubled.iloc[0]} has MLM probe records under {runs['subject'].eq(doubled.iloc[0]).sum()} "
                         "settings; keep one probe setting per results folder")
    pretrained = probes[probes["subject"] == "pretrained"].set_index("setting")["value"]
    return pd.DataFrame({"mlm": runs["value"].to_numpy(), "mlm_diff": (runs["value"] - runs["setting"].map(pretrained)).to_numpy()},
                        index=pd.Index(runs["subject"], name="run_id"))


def _key(frame: pd.DataFrame) -> pd.Series:
    """Every config field but `init_from` (a secondary run is its base run started elsewhere)."""
    return plain_key(frame, [c for c in CONFIG_KEY if c in frame.columns])


def generality_tables(frame: pd.DataFrame, probes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(`generality`, `secondary`) of a results frame with a `study` column: `generality` has one row
    per measured primary run (GENERALITY_COLUMNS; `secondary_diff` is the mean over its study's
    secondary tasks of the secondary score minus the base run's, NaN unless every one finished ok);
    `secondary` one row per (primary run, secondary task) (SECONDARY_COLUMNS)."""
    ok = frame[frame["status"] == "ok"]
    primary = ok[ok["init_from"].isna()]
    runs = ok[ok["init_from"].notna()]
    base_test = dict(zip(_key(primary), primary["metric_test"].astype(float)))
    secondary = pd.DataFrame({"run_id": runs["init_from"].to_numpy(), "secondary_task": runs["task"].to_numpy(),
                              "secondary_test": runs["metric_test"].astype(float).to_numpy(),
                              "base_test": [base_test.get(k, np.nan) for k in _key(runs)]})
    secondary["secondary_diff"] = secondary["secondary_test"] - secondary["base_test"]
    cells = primary.assign(variant=primary["selector"], subset_size=primary["subset_size"].astype(float),
                           validation=primary["metric_validation"].astype(float))
    cells = cells[["study", "task", "variant", "subset_size", "seed", "learning_rate", "run_id", "validation"]]
    secondary = secondary.merge(cells.drop(columns=["validation", "learning_rate"]), on="run_id")
    mlm = _mlm(probes) if not probes.empty else pd.DataFrame(columns=["mlm", "mlm_diff"])
    measured = cells[cells["run_id"].isin(set(mlm.index) | set(secondary["run_id"]))]
    measured = measured.assign(mlm=measured["run_id"].map(mlm["mlm"]).astype(float),
                               mlm_diff=measured["run_id"].map(mlm["mlm_diff"]).astype(float),
                               secondary_diff=measured["run_id"].map(_secondary_means(secondary)).astype(float))
    measured = _one_rate_per_cell(measured)
    secondary = secondary[secondary["run_id"].isin(set(measured["run_id"]))]
    return measured[GENERALITY_COLUMNS].reset_index(drop=True), secondary[SECONDARY_COLUMNS].reset_index(drop=True)


def _secondary_means(secondary: pd.DataFrame) -> dict[str, float]:
    if secondary.empty:
        return {}
    wanted = secondary.groupby(["study", "task"])["secondary_task"].agg(frozenset)
    means = {}
    for run_id, part in secondary.groupby("run_id"):
        first = part.iloc[0]
        complete = set(part["secondary_task"]) == wanted[(first["study"], first["task"])] and part["secondary_diff"].notna().all()
        means[run_id] = float(part["secondary_diff"].mean()) if complete else np.nan
    return means


def _one_rate_per_cell(measured: pd.DataFrame) -> pd.DataFrame:
    """The rows of each cell's measured rate: the best mean validation score among those measured."""
    if measured.empty:
        return measured
    cell = ["study", "task", "variant", "subset_size"]
    means = measured.groupby(cell + ["learning_rate"], dropna=False)["validation"].mean().reset_index()
    best = means.loc[means.groupby(cell, dropna=False)["validation"].idxmax(), cell + ["learning_rate"]]
    return measured.merge(best, on=cell + ["learning_rate"])
