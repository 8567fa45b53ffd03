"""The sentences the book pages write from their results, beside the paper's findings.

Each function takes a page's tables and returns Markdown; none decides a verdict (the
statistical tests do): they say what the numbers of this run show.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from repro.report.mask_figures import ALL_PARAMETERS
from repro.variants.registry import variant_fields, variant_named


def embedding_statement(shares: pd.DataFrame, task: str) -> str:
    """Notebook 01: each mask's share in the embeddings against their share of the parameters.
    `shares`: `repro.report.mask_figures.budget_shares`."""
    share = shares["embeddings"]
    baseline = share[ALL_PARAMETERS]
    lines = [f"- **{variant}**: {value:.1%} of its mask in the embeddings ({value / baseline:.1f}x their "
             f"{baseline:.1%} share of the parameters)"
             for variant, value in share.drop(ALL_PARAMETERS).sort_values(ascending=False).items()]
    return ("**Embeddings.** The paper reports that subset methods move the embeddings most. Here, "
            f"on {task}:\n\n" + "\n".join(lines))


def learning_rate_statements(summary: pd.DataFrame, variants: list[str]) -> str:
    """Notebook 02: whether random's chosen rate is above the downstream sq-grad one's, and
    whether each variant's chosen rate falls as the subset grows (`summarise` rows)."""
    by_size = summary.pivot_table(index="fraction", columns="selector", values="learning_rate")
    lines = []
    if {"random", "largest_downstream_sqgrad"} <= set(by_size.columns):
        ratio = (by_size["random"] / by_size["largest_downstream_sqgrad"]).dropna()
        lines.append(f"The random subset's chosen rate is higher than the downstream sq-grad subset's at "
                     f"{int((ratio > 1).sum())} of {len(ratio)} subset sizes (ratios: "
                     f"{', '.join(f'{r:g}' for r in ratio)}); the paper found it higher at every size.")
    for variant in variants:
        rates = by_size[variant].dropna() if variant in by_size else pd.Series(dtype=float)
        if len(rates) > 1:
            falling = bool(np.all(np.diff(rates.to_numpy()) <= 0))
            lines.append(f"{variant}: chosen rate {'never rises' if falling else 'does not always fall'} as the "
                         f"subset grows ({', '.join(f'{s:g}: {r:g}' for s, r in rates.items())}).")
    return "\n\n".join(lines) or "Too few sizes for a comparison."


def _ranked(table: pd.DataFrame, measure: str) -> list[str]:
    column = f"{measure} mean"
    return table[column].dropna().sort_values(ascending=False).index.tolist() if column in table else []


def generality_statements(table: pd.DataFrame, profile: str, seeds: int) -> str:
    """Notebook 04: where full fine-tuning ranks on the secondary tasks, the smallest gap and
    what keeps the MLM probe best, from Table 3 (`beside_paper` of measures per variant)."""
    lines = []
    secondary = _ranked(table, "secondary_full_diff")
    if secondary:
        full = secondary.index("full") if "full" in secondary else None
        better = [v for v in secondary if variant_named(v).efficient and variant_named(v).has_mask
                  and full is not None and secondary.index(v) < full]  # subset methods above full fine-tuning
        lines.append(f"- **Secondary tasks:** full fine-tuning ranks {None if full is None else full + 1} of "
                     f"{len(secondary)}; "
                     + (f"subset methods above it here: {', '.join(better)} (the paper: none)." if better
                        else "no subset method is above it, as in the paper."))
    gap = [v for v in _ranked(table, "gap") if variant_named(v).efficient]  # the PEFT variants
    if gap:
        lines.append(f"- **Gap:** smallest gap (highest test minus train) among the PEFT variants: **{gap[0]}** "
                     f"(the paper: BitFit); full fine-tuning's gap is {table.loc['full', 'gap mean']:+.4f}."
                     if "full" in table.index else
                     f"- **Gap:** smallest gap among the PEFT variants: **{gap[0]}** (the paper: BitFit).")
    mlm = _ranked(table, "mlm_diff")
    if mlm:
        lines.append(f"- **MLM probe:** best kept by {', '.join(mlm[:2])}; least by {', '.join(mlm[-2:])} "
                     "(the paper: regularised full fine-tuning and pruning without re-training keep most; BitFit "
                     "and the squared-gradient selectors least).")
    return ("\n".join(lines) + f"\n\nOne profile ({profile}), {seeds} seed(s): differences of a few points are "
            "within seed noise at this scale; see the paper profile for its setting.")


def pretrained_mlm(rows: pd.DataFrame) -> float:
    """The pretrained encoder's MLM precision@1 under the page's probe (NaN without one), from
    `assess` rows (their `mlm` minus `mlm_diff`)."""
    values = (rows["mlm"] - rows["mlm_diff"]).dropna() if {"mlm", "mlm_diff"} <= set(rows) else pd.Series(dtype=float)
    return float(values.iloc[0]) if len(values) else float("nan")


def base_runs_text(base_summary: pd.DataFrame, *, rates: bool = False) -> str:
    """"sst2 0.9123, trec6 0.8000": each task's base run (full fine-tuning of the pretrained
    encoder) test score, with its learning rate when `rates`."""
    return ", ".join(f"{r.task} {r.test_mean:.4f}" + (f" at lr {r.learning_rate:g}" if rates else "")
                     for r in base_summary.itertuples())


def similarity_statement(table: pd.DataFrame, base_summary: pd.DataFrame, tasks: tuple[str, ...]) -> str:
    """Notebook 05: per secondary task, how many tuned encoders end below full fine-tuning of
    the pretrained encoder after full fine-tuning (`table`: Table 8's numeric table)."""
    base = {row.task: row.test_mean for row in base_summary.itertuples()}
    lines = []
    for task in tasks:
        column = f"{task} full mean"
        if column in table:
            lines.append(f"- **{task}**: {(table[column] < base[task]).sum()} of {table[column].notna().sum()} tuned "
                         f"encoders end below full fine-tuning of the pretrained encoder ({base[task]:.4f}) after "
                         f"full fine-tuning; mean difference {(table[column] - base[task]).mean():+.4f}.")
    return ("**Similar vs. dissimilar.**\n\n" + "\n".join(lines) + "\n\nOne similar and one dissimilar task, as in "
            "the paper: no general conclusion follows from two tasks.")


def lora_rank_statement(table: pd.DataFrame, tasks: list[str]) -> str:
    """Notebook 06: the best rank per task (`lora_rank_table`)."""
    best = {task: table[f"{task} mean"].idxmax() for task in tasks}
    return ("**Rank.** Best rank per task here: " + ", ".join(f"{t}: {v}" for t, v in best.items())
            + " (the paper: the score grows with the rank, rank 64 best or within noise of rank 16).")


def regularization_trends(table: pd.DataFrame) -> str:
    """Notebook 07: per primary task and penalty, primary score, gap and MLM probe from the
    smallest to the largest coefficient (`table`: Table 11's numeric table, index task, variant)."""
    lines = []
    for task, part in table.groupby(level="task", sort=False):
        part = part.droplevel("task")
        for kind in ("l1", "l2"):
            rows = [v for _, v in sorted((variant_fields(v).get("regularization_strength"), v) for v in part.index
                                         if variant_fields(v).get("regularization") == kind)]
            if len(rows) < 2:
                continue
            low, high = part.loc[rows[0]], part.loc[rows[-1]]
            lines.append(f"- **{task}, {kind.upper()}** from {rows[0].split(':')[1]} to {rows[-1].split(':')[1]}: "
                         f"primary {low['primary_test mean']:.4f} → {high['primary_test mean']:.4f}, gap "
                         f"{low['gap mean']:+.4f} → {high['gap mean']:+.4f}, MLM {low['mlm mean']:.4f} → "
                         f"{high['mlm mean']:.4f}.")
    return ("**Trends** (the paper: L1 trades primary score for a smaller gap and more MLM ability; L2 keeps the "
            "primary score):\n\n" + "\n".join(lines))
