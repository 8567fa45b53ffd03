"""Notebook 01's mask summaries, stored so that the page renders without the masks: per run, where
its mask lies (its share per group of parameters and per layer), and for the page's set of runs
their pairwise Jaccard overlap, with the figures drawn from them.

Rebuilding a mask needs the run's cached statistics (and diff pruning's tuned weights), which the
reference store does not hold, so the summaries are probe records (`repro.generality.mlm_probe.ProbeStore`,
kinds `BUDGET` keyed by the run id and `OVERLAP` keyed by the sorted run ids): computed and stored
when the page trains, read from the results folder or the reference when it does not, and
listed as pending when they are in neither.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from repro.generality.mlm_probe import ProbeStore
from repro.report.figures import STYLES, book_figure, legend_below, readable
from repro.report.mask_figures import ALL_PARAMETERS, budget_by_group, budget_by_layer, jaccard_matrix
from repro.runs.config import RunConfig
from repro.runs.run import rebuild_selection_mask
from repro.runs.store import NotComputed
from repro.variants.registry import variant_of

BUDGET, OVERLAP = "mask_budget", "mask_overlap"


@dataclass(frozen=True)
class MaskSummaries:
    """`groups`: per variant its mask's share in each group of `repro.report.mask_figures.GROUPS`,
    then a row `ALL_PARAMETERS` (the groups' share of all entries); `layers`: the same per layer
    (embeddings first); `overlap`: the variants' Jaccard matrix (None: not stored); `pending`:
    variants whose summary is in neither store (the page does not train)."""

    groups: pd.DataFrame
    layers: pd.DataFrame
    overlap: pd.DataFrame | None
    pending: tuple[str, ...]


def masked_runs(chosen: dict[str, RunConfig]) -> dict[str, RunConfig]:
    """The runs of `chosen` (variant -> config) whose variant selects a proper subset: LoRA has no
    mask, full fine-tuning's is every entry."""
    return {v: c for v, c in chosen.items() if variant_of(c).has_mask and variant_of(c).efficient}


def _pairs(series: pd.Series) -> list[list]:
    return [[str(key), float(value)] for key, value in series.items()]


def mask_summary(mask) -> dict:
    """A mask's summary as JSON-ready lists of [name, share] pairs in order: `groups` and `layers`
    (share of the mask), `all_groups` and `all_layers` (share of all entries), and `selected`."""
    every = {name: torch.ones_like(m) for name, m in mask.items()}
    return {"groups": _pairs(budget_by_group(mask)), "layers": _pairs(budget_by_layer(mask)),
            "all_groups": _pairs(budget_by_group(every)), "all_layers": _pairs(budget_by_layer(every)),
            "selected": int(sum(int(m.sum()) for m in mask.values()))}


def _frame(summaries: dict[str, dict], part: str) -> pd.DataFrame:
    rows = {variant: pd.Series(dict(s[part])) for variant, s in summaries.items()}
    rows[ALL_PARAMETERS] = pd.Series(dict(next(iter(summaries.values()))[f"all_{part}"]))
    order = [name for name, _ in next(iter(summaries.values()))[f"all_{part}"]]
    return pd.DataFrame(rows).T.reindex(columns=order).fillna(0.0)


def share_frames(summaries: dict[str, dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(groups, layers) of `MaskSummaries` from `mask_summary` values per variant (in that order)."""
    return _frame(summaries, "groups"), _frame(summaries, "layers")


def load_summaries(chosen: dict[str, RunConfig], workspace) -> MaskSummaries | None:
    """The summaries of the `masked_runs` of `chosen` from the workspace's probe store, each
    computed from its rebuilt mask (`repro.runs.run.rebuild_selection_mask`) when missing and the
    workspace trains; the overlap only when every summary is there. None when no run has one."""
    runs, store, masks = masked_runs(chosen), ProbeStore.of(workspace), {}

    def mask(variant: str):
        if variant not in masks:
            masks[variant] = rebuild_selection_mask(runs[variant], workspace)
        return masks[variant]

    summaries, pending = {}, []
    for variant, config in runs.items():
        try:
            summaries[variant] = store.get_or_compute(BUDGET, {"run_id": config.run_id()},
                                                      lambda v=variant: mask_summary(mask(v)))["value"]
        except NotComputed:
            pending.append(variant)
    if not summaries:
        return None
    overlap = None
    if not pending:
        by_id = {config.run_id(): variant for variant, config in runs.items()}
        names = [by_id[run_id] for run_id in sorted(by_id)]  # the record's order: sorted run ids
        try:
            matrix = store.get_or_compute(OVERLAP, {"run_ids": sorted(by_id)},
                                          lambda: jaccard_matrix({v: mask(v) for v in names}).values.tolist())["value"]
            overlap = pd.DataFrame(matrix, index=names, columns=names).reindex(index=list(runs), columns=list(runs))
        except NotComputed:
            pass
    return MaskSummaries(*share_frames(summaries), overlap, tuple(pending))


def plot_groups(groups: pd.DataFrame):
    """Our Fig. S1: stacked bars, per variant the share of its mask in each group, after a first
    bar with the groups' share of all parameters (what a random mask gets). Returns the figure."""
    frame = groups.loc[[ALL_PARAMETERS] + [v for v in groups.index if v != ALL_PARAMETERS]]
    frame = frame.loc[:, frame.sum() > 0]
    figure, ax = book_figure(height_in=0.42 * len(frame) + 2.6)
    left = np.zeros(len(frame))
    for group in frame.columns:
        ax.barh(frame.index, frame[group], left=left, label=group)
        left += frame[group].to_numpy()
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the mask (selected entries)")
    ax.set_ylabel("variant")
    legend_below(figure)
    return readable(figure)


def plot_layers(layers: pd.DataFrame):
    """Our Fig. S2: each variant's share of its mask per layer (embeddings first), against the
    layers' share of all parameters (dashed). Returns the figure."""
    figure, ax = book_figure(height_in=4.2 + 0.25 * (len(layers) - 1))
    names = [str(c) for c in layers.columns]
    ax.plot(names, layers.loc[ALL_PARAMETERS].to_numpy(), color="grey", linestyle="--", label=ALL_PARAMETERS)
    for variant, shares in layers.drop(index=ALL_PARAMETERS).iterrows():
        marker, colour = STYLES.get(variant, ("o", None))
        ax.plot(names, shares.to_numpy(), marker=marker, color=colour, label=variant)
    ax.set_xlabel("layer (embeddings, then from the input)")
    ax.set_ylabel("share of the mask")
    ax.tick_params(axis="x", rotation=90)
    ax.grid(True, alpha=0.3)
    legend_below(figure)
    return readable(figure)


def pending_note(chosen: dict[str, RunConfig], summaries: MaskSummaries | None, task: str, seed: int) -> str:
    """Why the mask figures show nothing, or only some variants: no complete cell, no variant with
    a mask, or summaries in neither store (a page that does not train cannot rebuild masks)."""
    if not chosen:
        return f"No cell of {task} has all its runs yet: no mask to show."
    runs = masked_runs(chosen)
    if not runs:
        return "No variant shown here selects a subset (LoRA has no mask; full fine-tuning's is every entry)."
    missing = list(runs) if summaries is None else list(summaries.pending)
    return (f"Pending: the mask summaries of {', '.join(missing)} ({task}, seed {seed}) are not stored yet"
            + ("" if summaries is None else "; the figures show the other variants") + ". A mask is rebuilt from "
            "its run's cached statistics, which the reference store does not hold: the reference sweep "
            "(`scripts/reference_sweep.sh`) executes this page with `-p retrain missing` after its grids, which stores "
            "them.")
