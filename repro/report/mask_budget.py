"""Where a mask puts its budget, and how much two masks overlap.

Parameter names follow BERT/RoBERTa (`embeddings.*`, `encoder.layer.<i>.attention.*`,
`...intermediate.*`, `...output.*`); anything else is reported as component "other".
"""
from __future__ import annotations

import re

import pandas as pd
import torch

from repro.selection.selectors import Mask

_LAYER = re.compile(r"(?:^|\.)layer\.(\d+)\.")


def locate(name: str) -> tuple[str, str, str]:
    """(layer, component, kind) of a parameter: layer "embeddings" or the layer index as text;
    component embeddings | attention | feed-forward | layernorm | other; kind weight | bias."""
    kind = "bias" if name.endswith("bias") else "weight"
    if "LayerNorm" in name or "layer_norm" in name:
        component = "layernorm"
    elif name.startswith("embeddings."):
        component = "embeddings"
    elif ".attention." in name:
        component = "attention"
    elif ".intermediate." in name or ".output." in name:
        component = "feed-forward"
    else:
        component = "other"
    match = _LAYER.search(name)
    layer = match.group(1) if match else ("embeddings" if name.startswith("embeddings.") else "other")
    return layer, component, kind


def budget_table(mask: Mask) -> pd.DataFrame:
    """One row per (layer, component, kind): selected entries, total entries, the share of the
    whole mask that lies there (sums to 1) and the share of that group that is selected."""
    rows = {}
    for name, selected in mask.items():
        key = locate(name)
        chosen, total = rows.get(key, (0, 0))
        rows[key] = (chosen + int(selected.sum()), total + selected.numel())
    k = sum(chosen for chosen, _ in rows.values())
    if k == 0:
        raise ValueError("the mask selects no entry")
    frame = pd.DataFrame([(*key, chosen, total) for key, (chosen, total) in rows.items()],
                         columns=["layer", "component", "kind", "selected", "total"])
    return frame.assign(share_of_mask=frame["selected"] / k, share_selected=frame["selected"] / frame["total"])


def jaccard(first: Mask, second: Mask) -> float:
    """|A ∩ B| / |A ∪ B| over all entries; the masks must cover the same parameters."""
    if first.keys() != second.keys():
        raise ValueError("the masks cover different parameters")
    both = sum(int(torch.logical_and(first[n], second[n]).sum()) for n in first)
    either = sum(int(torch.logical_or(first[n], second[n]).sum()) for n in first)
    return both / either if either else 1.0
