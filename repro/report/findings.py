"""The sentences the book pages write from their results, beside the paper's findings.

Each function takes a page's tables and returns Markdown; none decides a verdict (the
statistical tests do): they say what the numbers of this run show.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from repro.report.beside_paper import paper_values
from repro.report.mask_figures import ALL_PARAMETERS
from repro.report.tables import format_rate, format_share
from repro.runs.store import NotComputed
from repro.variants.registry import variant_fields


def embedding_statement(shares: pd.DataFrame, task: str, seed: int | None = None) -> str:
    """Notebook 01: each mask's share in the embedding layer against the layer's share of the
    encoder's entries, one mask per variant (`task`, `seed`). `shares`: rows per variant and
    `ALL_PARAMETERS`, a column "embeddings" (`repro.report.mask_figures.budget_shares`)."""
    share = shares["embeddings"]
    baseline = share[ALL_PARAMETERS]
    lines = [f"- **{variant}**: {value:.1%} of its mask ({value / baseline:.1f}x the layer's share of the entries)"
             for variant, value in share.drop(ALL_PARAMETERS).sort_values(ascending=False).items()]
    where = task + ("" if seed is None else f", seed {seed}")
    return ("**Embedding layer.** No counterpart in the paper: its \"embedding network\" is the whole encoder, and "
            f"it does not say where masks lie. One mask per variant ({where}), so these describe single masks, not "
            f"averages over seeds. Share of each mask in the embedding layer, which holds {baseline:.1%} of the "
            "encoder's entries:\n\n" + "\n".join(lines))


def learning_rate_statements(summary: pd.DataFrame, variants: list[str]) -> str:
    """Notebook 02, one task: at how many subset sizes random's chosen rate is above the downstream
    sq-grad subset's, and whether each variant's chosen rate falls as the subset grows, from the
    `summarise` rows with a chosen rate (each chosen on the mean validation score over `n_seeds`;
    "edge": at its grid's edge, a bound). Counts cells, tests nothing (the claims do)."""
    chosen = summary.dropna(subset=["learning_rate"])
    by_size = chosen.pivot_table(index="fraction", columns="selector", values="learning_rate")
    edge = (chosen.set_index(["fraction", "selector"])["at_edge"].astype(bool) if "at_edge" in chosen
            else pd.Series(False, index=pd.MultiIndex.from_frame(chosen[["fraction", "selector"]])))
    lines = []
    if {"random", "largest_downstream_sqgrad"} <= set(by_size.columns):
        ratio = (by_size["random"] / by_size["largest_downstream_sqgrad"]).dropna()
        lines.append(f"The random subset's chosen rate is higher than the downstream sq-grad subset's at "
                     f"{int((ratio > 1).sum())} of {len(ratio)} subset sizes, equal at {int((ratio == 1).sum())} "
                     f"(ratios random / downstream: {', '.join(f'{r:.3g}' for r in ratio)}). The paper prints no "
                     "values (Fig. 2); its text expects the lower rate for the large-Fisher subset and reports that "
                     "random chose the cap, 0.1, at the smallest size.")
    for variant in variants:
        rates = by_size[variant].dropna() if variant in by_size else pd.Series(dtype=float)
        if len(rates) > 1:
            falling = bool(np.all(np.diff(rates.to_numpy()) <= 0))
            shown = ", ".join(f"{format_share(s)}: {format_rate(r)}" + (" (edge)" * bool(edge.get((s, variant))))
                              for s, r in rates.items())
            lines.append(f"{variant}: chosen rate {'never rises' if falling else 'does not always fall'} as the "
                         f"subset grows (size: rate; {shown}).")
    if not lines:
        return "Too few sizes for a comparison."
    seeds = sorted({int(n) for n in chosen["n_seeds"]}) if "n_seeds" in chosen else []
    basis = (f"Each rate is the one with the best mean validation score over the cell's seeds "
             f"(n = {', '.join(map(str, seeds))})" if seeds else "Each rate is the one chosen on validation")
    return "\n\n".join(lines + [basis + "; these count cells of one task and test nothing (the claims above do)."])


# Table 3's measures that notebook 04's sentences rank: (measure, name, what it is)
RANKED_MEASURES = (("secondary_full_diff", "Secondary tasks", "score after full fine-tuning minus the pretrained "
                    "encoder's"), ("gap", "Gap", "test minus train score"),
                   ("mlm_diff", "MLM probe", "precision@1 minus the pretrained encoder's"))


def _signed(row: pd.Series, measure: str) -> str:
    """"+0.0123 ± 0.0040" (the std only when the mean rests on two or more values)."""
    mean, std = row[f"{measure} mean"], row.get(f"{measure} std", np.nan)
    return f"{mean:+.4f}" + ("" if pd.isna(std) else f" ± {std:.4f}")


def _order(means: pd.Series, variants: list[str]) -> list[str]:
    """`variants` that have a mean in `means`, highest first."""
    return means.reindex(variants).dropna().sort_values(ascending=False, kind="stable").index.tolist()


def _values_behind(counts: pd.Series, unit: str = "value") -> str:
    """"3 values" or "1 to 3 values" (`unit` "seed": seeds): how many values each mean rests on."""
    low, high = int(counts.min()), int(counts.max())
    return f"{high} {unit}{'s' if high != 1 else ''}" if low == high else f"{low} to {high} {unit}s"


def generality_statements(table: pd.DataFrame) -> list[str]:
    """Notebook 04, one sentence per measure of `RANKED_MEASURES` from Table 3 (`beside_paper`'s
    numeric table: index variant, `<measure> mean`, `std`, `n`): the highest and lowest variant
    and full fine-tuning's rank by our means, with the values behind them, beside the same for
    the same variants in the paper's Table 3. Orders of means, not tests (the claims test)."""
    paper = paper_values(3)
    lines = []
    for measure, name, what in RANKED_MEASURES:
        if f"{measure} mean" not in table:
            continue
        ours = _order(table[f"{measure} mean"], [v for v in table.index if v in paper.index])
        theirs = _order(paper[f"{measure} paper mean"], ours)
        if len(ours) < 2:
            continue
        rows = table.loc[ours]
        if rows[f"{measure} mean"].nunique() == 1:
            lines.append(f"**{name}** ({what}): the same mean for all {len(ours)} variants "
                         f"({_signed(rows.iloc[0], measure)}), so no order.")
            continue
        full = (f"; full fine-tuning ranks {ours.index('full') + 1} of {len(ours)} "
                f"({_signed(rows.loc['full'], measure)})" if "full" in ours else "")
        paper_full = f"; full fine-tuning ranks {theirs.index('full') + 1}" if "full" in theirs else ""
        lines.append(f"**{name}** ({what}; mean ± std over {_values_behind(rows[f'{measure} n'])} per variant): "
                     f"highest {ours[0]} ({_signed(rows.loc[ours[0]], measure)}), lowest {ours[-1]} "
                     f"({_signed(rows.loc[ours[-1]], measure)}){full}. The paper's Table 3, same variants: highest "
                     f"{theirs[0]} ({paper.loc[theirs[0], f'{measure} paper mean']:+.4f}), lowest {theirs[-1]} "
                     f"({paper.loc[theirs[-1], f'{measure} paper mean']:+.4f}){paper_full}.")
    return lines + ["These order means and test nothing (the claims above do)."] if lines else []


def pretrained_mlm_sentence(rows: pd.DataFrame) -> str:
    """Notebook 04, beside Table 6: the pretrained encoder's MLM precision@1 under the page's
    probe (`pretrained_mlm`) and what the paper's tables imply for roberta-base (it prints no
    such value: Table 6's full fine-tuning, averaged over its tasks, minus Table 3's change of
    full fine-tuning), with the range of its tuned encoders' values in Table 6."""
    table6, table3 = paper_values(6)["mlm paper mean"], paper_values(3)
    full = table6.xs("full", level="variant").mean()
    change = table3.loc["full", "mlm_diff paper mean"]
    return (f"The pretrained encoder's precision@1 under the same probe: {pretrained_mlm(rows):.4f}. The paper prints "
            f"none for roberta-base; its tables imply about {full - change:.3f} (Table 6's full fine-tuning averaged "
            f"over the tasks, {full:.4f}, minus Table 3's change, {change:+.4f}), and its tuned encoders span "
            f"{table6.min():.4f} to {table6.max():.4f} (Table 6).")


def pending_measures(error: NotComputed) -> str:
    """What a section 4 table still waits for, from the `NotComputed` its measures raised,
    without the folders it names (no machine paths): "1 base or secondary run(s), e.g. ..."."""
    return str(error).split(" is not in ", 1)[0]


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
    counts = [table[f"{task} full n"] for task in tasks if f"{task} full n" in table]
    seeds = f" (means over {_values_behind(pd.concat(counts).dropna(), 'seed')} per cell)" if counts else ""
    return (f"**Similar vs. dissimilar**{seeds}.\n\n" + "\n".join(lines) + "\n\nOne similar and one dissimilar "
            "task, as in the paper: no general conclusion follows from two tasks.")


def _rank_course(means: pd.Series) -> str:
    """"highest at rank 4 (0.9406), rises at 3 of 5 steps of the rank" from means indexed by rank."""
    means = means.dropna().sort_index()
    steps = np.diff(means.to_numpy())
    return (f"highest at rank {means.idxmax()} ({means.max():.4f}), rises at {int((steps > 0).sum())} of {len(steps)} "
            "steps of the rank")


def lora_rank_statement(table: pd.DataFrame, tasks: list[str]) -> str:
    """Notebook 06, from Table 9 (`lora_rank_table`: `rank`, `<task> mean`, `<task> n` per LoRA
    variant): per task, the rank with the highest mean test score and at how many steps of the
    rank the mean rises, with the seeds behind the means, beside the same in the paper's Table 9
    over the same ranks. Means, not tests."""
    paper = paper_values(9).set_index("rank")
    lines = []
    for task in tasks:
        ours = table.set_index("rank")[f"{task} mean"].dropna() if f"{task} mean" in table else pd.Series(dtype=float)
        if len(ours) < 2:
            continue
        line = (f"- **{task}** (mean over {_values_behind(table[f'{task} n'].dropna(), 'seed')} per rank): "
                f"{_rank_course(ours)}")
        if f"{task} paper mean" in paper:
            theirs = paper[f"{task} paper mean"].reindex(ours.index)
            line += f"; the paper's Table 9 at the same ranks: {_rank_course(theirs)}"
        lines.append(line + ".")
    return ("**Rank.**\n\n" + "\n".join(lines) + "\n\nThese compare means and test nothing." if lines else "")


# Table 11's measures in notebook 07's sentences: (label, column stem, format)
TREND_MEASURES = (("primary", "primary_test", "{:.4f}"), ("gap", "gap", "{:+.4f}"), ("MLM", "mlm", "{:.4f}"))


def _course(values, form: str) -> str:
    """"0.8000 → 0.5000"; a missing value is "—"."""
    return " → ".join("—" if pd.isna(v) else form.format(v) for v in values)


def regularization_trends(table: pd.DataFrame) -> str:
    """Notebook 07: per primary task and penalty, the primary score, gap and MLM probe at each
    coefficient from the smallest to the largest (`table`: Table 11's numeric table, index task,
    variant), and the paper's Table 11 at the same coefficients where it has them."""
    paper = paper_values(11)
    lines = []
    for task, part in table.groupby(level="task", sort=False):
        part = part.droplevel("task")
        for kind in ("l1", "l2"):
            rows = [v for _, v in sorted((variant_fields(v).get("regularization_strength"), v) for v in part.index
                                         if variant_fields(v).get("regularization") == kind)]
            if len(rows) < 2:
                continue
            measures = [(label, stem, form) for label, stem, form in TREND_MEASURES if f"{stem} mean" in part]
            line = (f"- **{task}, {kind.upper()}** from {rows[0].split(':')[1]} to {rows[-1].split(':')[1]}: "
                    + ", ".join(f"{label} {_course(part.loc[rows, f'{stem} mean'], form)}"
                                for label, stem, form in measures))
            theirs = [(task, v) for v in rows]
            if all(key in paper.index for key in theirs):
                line += "; the paper: " + ", ".join(f"{label} {_course(paper.loc[theirs, f'{stem} paper mean'], form)}"
                                                    for label, stem, form in measures)
            lines.append(line + ".")
    counts = f" over {_values_behind(table['primary_test n'], 'seed')} per cell" if "primary_test n" in table else ""
    return (f"**Trends** (our means{counts}, from the smallest to the largest coefficient; the paper's Table 11 "
            "beside them where it has the task):\n\n" + "\n".join(lines))
