"""How far fine-tuning moves the entries it tunes (the paper's Fig. 5, appendix B).

For each (variant, subset size) cell of a study, the |theta - theta_0| of every tuned entry of
the cell's chosen run, binned on log10-spaced edges. Cells are keyed by (variant, realised
subset size), the `selector` and `fraction` columns of `repro.runs.learning_rate.summarise`.
The figure is `repro.report.change_figures.plot_change_histograms`.

The changes need the run's tuned weights, which a reference store does not hold, so a page
keeps per run a `change_record` (bin counts on `STORED_BINS`, quantiles) as a probe record
(kind `KIND`, keyed by the run id, `repro.generality.mlm_probe.ProbeStore`): computed when the
page trains (`stored_records`), read from the results folder or the reference when it does
not, pending when in neither. Histograms and tables are made from those records.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import torch

from repro.generality.mlm_probe import ProbeStore
from repro.runs.config import RunConfig
from repro.runs.learning_rate import chosen_configs
from repro.runs.run import Workspace, initial_encoder, load_or_train_tuned_weights, rebuild_selection_mask
from repro.runs.store import NotComputed
from repro.selection.selectors import Mask
from repro.training.tuned_weights import TunedWeights

Cell = tuple[str, float]  # (variant, realised subset size)
EDGES = tuple(10.0 ** e for e in range(-9, 1))  # 1e-9 ... 1: one bin per decade
ZERO = "0"  # the bin of entries that did not move at all
KIND = "change_histogram"  # probe records: per run id, its `change_record`
STORED_BINS = (-12, 1, 12)  # (low, high, per_decade) of the records' bins: `log_edges(*STORED_BINS)`


def log_edges(low: int = -9, high: int = 0, per_decade: int = 1) -> tuple[float, ...]:
    """Bin edges 10^low ... 10^high with `per_decade` bins per decade."""
    return tuple(10.0 ** (low + i / per_decade) for i in range((high - low) * per_decade + 1))


def page_edges(bins_per_decade: int) -> tuple[float, ...]:
    """The page's bin edges, 1e-9 ... 1 with `bins_per_decade` bins per decade: a divisor of the
    records' (`STORED_BINS`), so that `rebin` is exact; ValueError naming the allowed values."""
    per_decade = STORED_BINS[2]
    allowed = [n for n in range(1, per_decade + 1) if per_decade % n == 0]
    if bins_per_decade not in allowed:
        raise ValueError(f"bins_per_decade {bins_per_decade!r} must be one of {allowed} (divisors of the "
                         f"{per_decade} bins per decade the change records keep)")
    return log_edges(-9, 0, bins_per_decade)


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


def _check_edges(edges) -> torch.Tensor:
    bounds = torch.tensor(edges, dtype=torch.float64)
    if len(bounds) < 2 or not bool((bounds[1:] > bounds[:-1]).all()) or bounds[0] <= 0:
        raise ValueError(f"edges must be positive and increasing, got {edges!r}")
    return bounds


def bin_counts(values: torch.Tensor, edges=EDGES) -> list[int]:
    """Entries of `values` per bin of `bin_labels(edges)`: exact zeros in "0", nonzero values
    below the lowest edge in "<edge", at or above the highest in "≥edge", a <= value < b else."""
    bounds = _check_edges(edges)
    counts = torch.zeros(len(bounds) + 2, dtype=torch.int64)
    for chunk in values.reshape(-1).split(1 << 22):
        chunk = chunk.double()
        counts[0] += int((chunk == 0).sum())
        bins = torch.bucketize(chunk[chunk != 0], bounds, right=True) + 1  # 1: below, len + 1: overflow
        counts += torch.bincount(bins, minlength=len(counts))
    return counts.tolist()


def change_record(values: torch.Tensor) -> dict:
    """What a page keeps of one run's |theta - theta_0| (`tuned_changes`), JSON-ready: `bins`
    (`STORED_BINS`) and `counts` (`bin_counts` on them), `entries`, `unchanged` (exact zeros),
    `median` and `p90` over all entries, `median_moved` over the nonzero ones (None when none)."""
    array = values.reshape(-1).double().numpy()
    moved = array[array != 0]
    median, p90 = (float(q) for q in np.quantile(array, [0.5, 0.9])) if array.size else (None, None)
    return {"bins": list(STORED_BINS), "counts": bin_counts(values, log_edges(*STORED_BINS)),
            "entries": int(array.size), "unchanged": int(array.size - moved.size), "median": median, "p90": p90,
            "median_moved": float(np.median(moved)) if moved.size else None}


def rebin(record: dict, edges=EDGES) -> list[int]:
    """A `change_record`'s counts on `edges` (every edge must be one of the record's bin edges,
    e.g. `log_edges(-9, 0, n)` with n dividing the record's bins per decade); ValueError naming
    the first edge that is not."""
    stored = np.asarray(log_edges(*record["bins"]))
    wanted = _check_edges(edges).numpy()
    positions = []
    for edge in wanted:
        match = np.flatnonzero(np.isclose(stored, edge, rtol=1e-9, atol=0))
        if not match.size:
            low, high, per_decade = record["bins"]
            raise ValueError(f"edge {edge:g} is not a stored bin edge (10^{low} ... 10^{high}, {per_decade} per "
                             f"decade): bins per decade must divide {per_decade}, edges within that range")
        positions.append(int(match[0]))
    counts = record["counts"]
    inner = counts[2:-1]  # inner[j]: stored[j] <= value < stored[j + 1]
    return ([counts[0], counts[1] + sum(inner[:positions[0]])]
            + [sum(inner[a:b]) for a, b in zip(positions, positions[1:])]
            + [sum(inner[positions[-1]:]) + counts[-1]])


def _index(cells) -> pd.MultiIndex:
    return pd.MultiIndex.from_tuples(list(cells), names=["selector", "subset size"])


def _shares(rows: list[list[int]], cells, edges) -> pd.DataFrame:
    shares = [[c / sum(row) for c in row] if sum(row) else [np.nan] * len(row) for row in rows]
    return pd.DataFrame(shares, index=_index(cells), columns=bin_labels(edges), dtype=float)


def change_histogram(changes: Mapping[Cell, torch.Tensor], edges=EDGES) -> pd.DataFrame:
    """One row per cell, one column per bin (`bin_labels`): the share of the cell's tuned entries
    in the bin (`bin_counts`); each row sums to 1 (NaN for a cell with no entries)."""
    return _shares([bin_counts(values, edges) for values in changes.values()], changes, edges)


def histogram_of(records: Mapping[Cell, dict], edges=EDGES) -> pd.DataFrame:
    """`change_histogram` from stored `change_record`s (`rebin` on `edges`)."""
    return _shares([rebin(record, edges) for record in records.values()], records, edges)


def summary_table(records: Mapping[Cell, dict], cells: Mapping[Cell, RunConfig] | None = None) -> pd.DataFrame:
    """Per cell of `change_record`s: tuned entries, share unchanged (exactly 0), median and 90th
    percentile of |change| over all tuned entries (zeros included), and the median over the
    entries that moved (NaN when none did); with `cells`, the run's learning rate first."""
    def number(value) -> float:
        return np.nan if value is None else float(value)

    rows = [{"tuned entries": r["entries"],
             "share unchanged": r["unchanged"] / r["entries"] if r["entries"] else np.nan,
             "median |change|": number(r["median"]), "90th pct |change|": number(r["p90"]),
             "median |change| of moved": number(r["median_moved"])} for r in records.values()]
    table = pd.DataFrame(rows, index=_index(records))
    if cells is not None:
        table.insert(0, "learning rate", [cells[cell].learning_rate for cell in records])
    return table


def change_summary(changes: Mapping[Cell, torch.Tensor], cells: Mapping[Cell, RunConfig] | None = None) -> pd.DataFrame:
    """`summary_table` of the cells' changes (`change_record` of each)."""
    return summary_table({cell: change_record(values) for cell, values in changes.items()}, cells)


def stored_records(cells: Mapping[Cell, RunConfig], workspace: Workspace) -> tuple[dict[Cell, dict], list[Cell]]:
    """Per cell, the `change_record` of its run from the workspace's probe store (kind `KIND`,
    identity {"run_id"}), computed from the run's tuned weights (`tuned_changes`) when it is
    missing and the workspace trains; and the cells whose record is pending (in neither store,
    and the workspace does not train)."""
    store, records, pending = ProbeStore.of(workspace), {}, []
    for cell, config in cells.items():
        try:
            records[cell] = store.get_or_compute(KIND, {"run_id": config.run_id()},
                                                 lambda c=config: change_record(tuned_changes(c, workspace)))["value"]
        except NotComputed:
            pending.append(cell)
    return records, pending


def pending_note(pending: Mapping[int, list[Cell]], profile: str) -> str:
    """Markdown: how many chosen runs ({seed: cells of `stored_records`}) lack their change record,
    and how to compute them (the runs' tuned weights are needed: the folder the sweep trained
    in); "" when none does."""
    missing = [(seed, cell) for seed, cells in pending.items() for cell in cells]
    if not missing:
        return ""
    seed, (variant, size) = missing[0]
    return (f"**Pending.** The change records of {len(missing)} chosen run(s) (first: {variant} at {size:.2g}, seed "
            f"{seed}) are in neither the results folder nor the reference store; tables, figure and statement use "
            "the others. Computing them needs the runs' tuned weights, which only the folder that trained them "
            "keeps (a reference store holds no weights):\n\n```bash\npapermill notebooks/08_change_magnitude.ipynb "
            f"out.ipynb -p profile {profile} -p retrain True -p results_dir <that folder>\n"
            "python -m repro reference export <that folder>\n```")


def _comparisons(cells: list[Cell]) -> list[tuple[str, Cell, Cell]]:
    """(label, smaller cell, larger cell): per variant with several sizes its smallest against its
    largest; then the smallest subset of all against the largest, when of different variants."""
    pairs = []
    for selector in sorted({s for s, _ in cells}):
        sizes = sorted(size for s, size in cells if s == selector)
        if len(sizes) > 1:
            pairs.append((selector, (selector, sizes[0]), (selector, sizes[-1])))
    ordered = sorted(cells, key=lambda cell: cell[1])
    if ordered and ordered[0][0] != ordered[-1][0]:
        pairs.append((f"{ordered[0][0]} against {ordered[-1][0]}", ordered[0], ordered[-1]))
    return pairs


def size_statement(tables: Mapping[int, pd.DataFrame]) -> str:
    """Markdown: whether smaller subsets moved their entries further, from per-seed `summary_table`s
    ({seed: table}), compared on the median |change| of the moved entries. Per comparison
    (`_comparisons`) the seeds with both cells, in how many of them the smaller subset moved
    further, and the medians over those seeds; then n, and that the paper's Fig. 5 prints no
    values, so only the direction can be compared (one seed is a direction, not evidence)."""
    medians = {seed: table["median |change| of moved"].dropna() for seed, table in tables.items()}
    cells = sorted({cell for series in medians.values() for cell in series.index})
    sentences, seeds_used, outcomes = [], set(), []
    for label, small, large in _comparisons(cells):
        pairs = {seed: (m[small], m[large]) for seed, m in medians.items() if small in m.index and large in m.index}
        if not pairs:
            continue
        further = sum(s > l for s, l in pairs.values())
        s_median, l_median = (float(np.median([pair[i] for pair in pairs.values()])) for i in (0, 1))
        seeds_used |= set(pairs)
        outcomes.append((further, len(pairs)))
        sentences.append(f"- **{label}** (subset size {100 * small[1]:.3g}% against {100 * large[1]:.3g}%): the "
                         f"smaller subset moved its entries further in {further} of {len(pairs)} seed(s); median "
                         f"|change| of the moved entries {s_median:.2e} against {l_median:.2e} (median over the "
                         f"seeds, {s_median / l_median:.3g}x).")
    if not sentences:
        return "Fewer than two cells with moved entries: nothing to compare."
    n = len(seeds_used)
    closing = (f"Seeds: n = {n}. The paper's Fig. 5 prints no values, so only the direction can be compared: the "
               "paper expects the smaller subset to move its entries further.")
    if n == 1:
        closing += " One seed gives one run per cell: a direction, not evidence for or against that expectation."
    elif all(further == total for further, total in outcomes):
        closing += " Here every seed of every comparison shows that direction."
    elif not any(further for further, _ in outcomes):
        closing += " Here no seed of any comparison shows it: the larger subset moved its entries as far or further."
    else:
        closing += " Here the direction differs between comparisons or seeds."
    return "\n".join(sentences) + "\n\n" + closing
