"""Figures of where selectors put their budget and how much their masks overlap (notebook 01).

Every figure has labelled axes and the book's style (`repro.report.figures`); captions come from
`figure_caption("budget_groups" | "budget_layers" | "mask_overlap", ...)`.
"""
from __future__ import annotations

import pandas as pd
import torch

from repro.report.figures import book_figure, readable
from repro.report.mask_budget import budget_table, jaccard
from repro.selection.selectors import Mask

ALL_PARAMETERS = "(all parameters)"  # the row of every entry: where a uniformly random mask lies
GROUPS = ("embeddings", "attention weights", "feed-forward weights", "LayerNorm", "attention/feed-forward biases",
          "other")


def _group(component: str, kind: str) -> str:
    if component == "layernorm":
        return "LayerNorm"
    if component == "other":
        return "other"
    if kind == "bias":
        return "attention/feed-forward biases" if component != "embeddings" else "embeddings"
    return {"embeddings": "embeddings", "attention": "attention weights", "feed-forward": "feed-forward weights"}[component]


def budget_by_group(mask: Mask) -> pd.Series:
    """Share of the mask in each of `GROUPS` (sums to 1)."""
    table = budget_table(mask)
    groups = [_group(c, k) for c, k in zip(table["component"], table["kind"])]
    return table.groupby(groups)["share_of_mask"].sum().reindex(GROUPS, fill_value=0.0)


def parameter_shares(mask: Mask) -> pd.Series:
    """Share of all encoder entries in each group: where a uniformly random mask puts its budget."""
    return budget_by_group({name: torch.ones_like(m) for name, m in mask.items()})


def _layer_order(layers) -> list[str]:
    numbered = sorted((int(x) for x in layers if str(x).isdigit()))
    return (["embeddings"] if "embeddings" in set(layers) else []) + [str(i) for i in numbered] + \
        (["other"] if "other" in set(layers) else [])


def budget_by_layer(mask: Mask) -> pd.Series:
    """Share of the mask per layer: "embeddings", then "0", "1", ... (sums to 1)."""
    shares = budget_table(mask).groupby("layer")["share_of_mask"].sum()
    return shares.reindex(_layer_order(shares.index))


def budget_shares(masks: dict[str, Mask]) -> pd.DataFrame:
    """One row per variant (`budget_by_group` of its mask), then a row "(all parameters)": the
    groups' share of all entries, what a uniformly random mask gets."""
    frame = pd.DataFrame({variant: budget_by_group(mask) for variant, mask in masks.items()}).T
    frame.loc[ALL_PARAMETERS] = parameter_shares(next(iter(masks.values())))
    return frame


def jaccard_matrix(masks: dict[str, Mask]) -> pd.DataFrame:
    """Pairwise Jaccard overlap |A ∩ B| / |A ∪ B| of the masks."""
    names = list(masks)
    values = [[1.0 if a == b else jaccard(masks[a], masks[b]) for b in names] for a in names]
    return pd.DataFrame(values, index=names, columns=names)


def plot_jaccard(matrix: pd.DataFrame):
    """Our Fig. S3: heat map of `jaccard_matrix`, values printed in the cells. Returns the figure."""
    figure, ax = book_figure(height_in=min(6.4, 0.45 * len(matrix) + 3.2))
    image = ax.imshow(matrix.to_numpy(), vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(matrix)), matrix.columns, rotation=90)
    ax.set_yticks(range(len(matrix)), matrix.index)
    for i in range(len(matrix)):
        for j in range(len(matrix)):
            value = matrix.iat[i, j]
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="white" if value < 0.6 else "black")
    ax.set_xlabel("variant")
    ax.set_ylabel("variant")
    figure.colorbar(image, ax=ax, label="Jaccard overlap")
    return readable(figure)
