"""How far fine-tuning moves the entries it tunes (the paper's Fig. 5, appendix B).

For each (variant, subset size) cell of a study, the |theta - theta_0| of every tuned entry of
the cell's chosen run, binned on log10-spaced edges. Cells are keyed by (variant, realised
subset size), the `selector` and `fraction` columns of `repro.runs.learning_rate.summarise`.
The figure is `repro.report.change_figures.plot_change_histograms`.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import torch

from repro.runs.learning_rate import chosen_configs
from repro.runs.config import RunConfig
from repro.runs.run import Workspace, initial_encoder, rebuild_selection_mask, load_or_train_tuned_weights
from repro.selection.selectors import Mask
from repro.training.tuned_weights import TunedWeights

Cell = tuple[str, float]  # (variant, realised subset size)
EDGES = tuple(10.0 ** e for e in range(-9, 1))  # 1e-9 ... 1: one bin per decade
ZERO = "0"  # the bin of entries that did not move at all


def log_edges(low: int = -9, high: int = 0, per_decade: int = 1) -> tuple[float, ...]:
    """Bin edges 10^low ... 10^high with `per_decade` bins per decade."""
    return tuple(10.0 ** (low + i / per_decade) for i in range((high - low) * per_decade + 1))


def bin_labels(edges=EDGES) -> list[str]:
    """Column names of `change_histogram`: "0", "<lowest edge", one "a–b" per pair of edges
    (a <= change < b), "≥highest edge"."""
    edges = [f"{e:.2g}" for e in edges]
    return [ZERO, f"<{edges[0]}"] + [f"{a}–{b}" for a, b in zip(edges, edges[1:])] + [f"≥{edges[-1]}"]


def changes_of(weights: TunedWeights, initial: dict[str, torch.Tensor], mask: Mask | None) -> torch.Tensor:
    """|theta - theta_0| of the entries in `mask`, flattened in parameter order, unmoved entries
    (exact zeros) included. `mask` None: every entry that moved (a change other than 0)."""
    magnitudes = weights.change_magnitudes(initial)
    if mask is None:
        parts = [m.reshape(-1)[m.reshape(-1) != 0] for m in magnitudes.values()]
    else:
        if set(mask) != set(magnitudes):
            raise ValueError(f"mask and weights differ in parameters: {sorted(set(mask) ^ set(magnitudes))[:5]}")
        parts = [magnitudes[n].reshape(-1)[mask[n].reshape(-1).to(magnitudes[n].device)] for n in magnitudes]
    return torch.cat(parts).float() if parts else torch.zeros(0)


def tuned_changes(config: RunConfig, workspace: Workspace) -> torch.Tensor:
    """|theta - theta_0| of every entry a finished run tuned, as a 1-D float tensor: the entries
    of its mask (`repro.runs.run.rebuild_selection_mask`; full fine-tuning: every encoder entry),
    zeros of entries that did not move included. A variant without a mask (LoRA: adapters merged
    into the encoder) counts the merged encoder's entries that moved (nonzero only).
    Runs the run when its weights are missing (`repro.runs.run.load_or_train_tuned_weights`)."""
    weights, initial = load_or_train_tuned_weights(config, workspace), initial_encoder(config, workspace)
    return changes_of(weights, initial, rebuild_selection_mask(config, workspace))


def chosen_cells(summary: pd.DataFrame, configs: list[RunConfig], seed: int) -> dict[Cell, RunConfig]:
    """Per row of `summary` (one task), the RunConfig of `seed` at the chosen learning rate,
    keyed by (variant, realised subset size); cells without a chosen rate are left out."""
    cells = {}
    for _, rows in summary.groupby(summary["subset_size"].fillna(-1.0), sort=True):
        fractions = dict(zip(rows["selector"], rows["fraction"]))
        for variant, config in chosen_configs(rows, configs, seed).items():
            cells[(variant, float(fractions[variant]))] = config
    return dict(sorted(cells.items()))


def changes_by_cell(cells: Mapping[Cell, RunConfig], workspace: Workspace) -> dict[Cell, torch.Tensor]:
    """`tuned_changes` of every cell's run."""
    return {cell: tuned_changes(config, workspace) for cell, config in cells.items()}


def _index(cells) -> pd.MultiIndex:
    return pd.MultiIndex.from_tuples(list(cells), names=["selector", "subset size"])


def change_histogram(changes: Mapping[Cell, torch.Tensor], edges=EDGES) -> pd.DataFrame:
    """One row per cell, one column per bin (`bin_labels`): the share of the cell's tuned entries
    whose |change| falls in the bin; each row sums to 1 (NaN for a cell with no entries).
    Exact zeros count in bin "0"; nonzero changes below the lowest edge in "<edge", at or
    above the highest edge in "≥edge"; a bin holds a <= change < b."""
    bounds = torch.tensor(edges, dtype=torch.float64)
    if len(bounds) < 2 or not bool((bounds[1:] > bounds[:-1]).all()) or bounds[0] <= 0:
        raise ValueError(f"edges must be positive and increasing, got {edges!r}")
    rows = []
    for values in changes.values():
        counts = torch.zeros(len(bounds) + 2, dtype=torch.float64)
        for chunk in values.reshape(-1).split(1 << 22):
            chunk = chunk.double()
            counts[0] += int((chunk == 0).sum())
            bins = torch.bucketize(chunk[chunk != 0], bounds, right=True) + 1  # 1: below, len + 1: overflow
            counts += torch.bincount(bins, minlength=len(counts)).double()
        rows.append((counts / counts.sum()).tolist() if values.numel() else [np.nan] * len(counts))
    return pd.DataFrame(rows, index=_index(changes), columns=bin_labels(edges))


def change_summary(changes: Mapping[Cell, torch.Tensor], cells: Mapping[Cell, RunConfig] | None = None) -> pd.DataFrame:
    """Per cell: tuned entries, share unchanged (exactly 0), median and 90th percentile of
    |change| over all tuned entries (zeros included), and the median over the entries that
    moved (NaN when none did); with `cells`, the run's learning rate first."""
    rows = []
    for values in changes.values():
        array = values.reshape(-1).double().numpy()
        moved = array[array != 0]
        median, p90 = np.quantile(array, [0.5, 0.9]) if array.size else (np.nan, np.nan)
        unchanged = 1 - moved.size / array.size if array.size else np.nan
        rows.append({"tuned entries": array.size, "share unchanged": unchanged,
                     "median |change|": float(median), "90th pct |change|": float(p90),
                     "median |change| of moved": float(np.median(moved)) if moved.size else np.nan})
    table = pd.DataFrame(rows, index=_index(changes))
    if cells is not None:
        table.insert(0, "learning rate", [cells[cell].learning_rate for cell in changes])
    return table


def size_statement(summary: pd.DataFrame) -> str:
    """A sentence per variant with several subset sizes, and one for the smallest against the
    largest subset of all cells (when of different variants), comparing the median |change| of
    the entries that moved (`change_summary` output; unmoved entries are its "share
    unchanged"); then whether smaller subsets moved further in every comparison."""
    def compare(small, large) -> tuple[str, int]:
        (s_cell, s_median), (l_cell, l_median) = small, large
        text = (f"{s_median:.2e} at subset size {s_cell[1]:.2g} vs {l_median:.2e} at {l_cell[1]:.2g} "
                f"({s_median / l_median:.3g}x)")
        return text, int(np.sign(s_median - l_median))

    medians = summary["median |change| of moved"].dropna()
    if medians.empty:
        return "No cell has moved entries to compare."
    sentences, signs = [], []
    for selector, rows in medians.groupby(level="selector", sort=True):
        if len(rows) > 1:
            ordered = rows.sort_index(level="subset size")
            text, sign = compare((ordered.index[0], ordered.iloc[0]), (ordered.index[-1], ordered.iloc[-1]))
            sentences.append(f"{selector}: median |change| of the moved entries {text}.")
            signs.append(sign)
    ordered = medians.iloc[np.argsort([cell[1] for cell in medians.index], kind="stable")]
    if ordered.index[0][0] != ordered.index[-1][0]:  # extremes of different variants
        text, sign = compare((ordered.index[0], ordered.iloc[0]), (ordered.index[-1], ordered.iloc[-1]))
        sentences.append(f"Over all cells, the smallest subset ({ordered.index[0][0]}) against the largest "
                         f"({ordered.index[-1][0]}): {text}.")
        signs.append(sign)
    if not signs:
        return "Only one cell: nothing to compare."
    verdict = ("As in the paper, the smaller subsets moved their entries further in every comparison."
               if all(s > 0 for s in signs) else
               "Unlike the paper's point, the smaller subsets did not move their entries further in any comparison."
               if all(s <= 0 for s in signs) else
               "Mixed: smaller subsets moved their entries further in some comparisons and not in others.")
    return " ".join(sentences + [verdict])
