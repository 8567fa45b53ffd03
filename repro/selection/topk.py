"""Global top-k over many score tensors, exact, without concatenating them.

The k-th largest score is bracketed from a seeded random sample of the scores. One pass over
all tensors then writes each mask as "score above the bracket" and collects the positions and
values of the few scores inside it; the exact threshold, and which of the scores equal to it
win, are settled on that small set, and its winners are set in the masks. A bracket that
misses (improbable) is widened to the side it missed and the pass repeated. Scores are
compared as float32 values, so -0.0 equals +0.0 and infinities order.
"""
from __future__ import annotations

import math

import torch

SAMPLE = 1 << 16  # scores sampled to bracket the threshold; totals up to this size skip sampling
_SPREAD = 6.0  # bracket half-width in standard deviations of the sample rank (misses: ~1e-9)


def _flat32(tensor: torch.Tensor) -> torch.Tensor:
    """The scores as a flat float32 tensor (a view when they are float32 already)."""
    return tensor.detach().reshape(-1).to(torch.float32)


def _check_no_nan(scores: dict[str, torch.Tensor]) -> None:
    for name, tensor in scores.items():
        flat = _flat32(tensor)
        if not bool(torch.isfinite(flat.sum())) and bool(torch.isnan(flat).any()):  # a finite sum has no NaN
            raise ValueError(f"scores of {name!r} contain NaN")


def _bracket(scores: dict[str, torch.Tensor], k: int, total: int) -> tuple[float, float]:
    """(low, high) holding the k-th largest score with high probability, from SAMPLE scores
    drawn uniformly with replacement (seeded)."""
    positions = torch.randint(total, (SAMPLE,), generator=torch.Generator().manual_seed(0)).sort().values
    parts, offset = [], 0
    for tensor in scores.values():
        end = offset + tensor.numel()
        inside = positions[int(torch.searchsorted(positions, offset)):int(torch.searchsorted(positions, end))]
        parts.append(_flat32(tensor)[(inside - offset).to(tensor.device)].cpu())
        offset = end
    sample = torch.cat(parts).sort(descending=True).values
    expected = k / total * SAMPLE  # rank of the k-th largest within the sample
    spread = _SPREAD * math.sqrt(expected * (1 - k / total)) + 2
    top, bottom = math.floor(expected - spread), math.ceil(expected + spread)
    high = float(sample[top]) if top >= 0 else math.inf
    low = float(sample[bottom]) if bottom < SAMPLE else -math.inf
    return low, high


def _split(scores: dict[str, torch.Tensor], masks: dict[str, torch.Tensor], low: float,
           high: float) -> tuple[int, list[torch.Tensor], torch.Tensor]:
    """Write masks[name] = score > high; return (how many are, the flat positions of the scores
    in [low, high] per tensor, their values concatenated in dict then position order)."""
    above, positions, values = 0, [], []
    buffers: dict[torch.device, torch.Tensor] = {}  # reused: a fresh temporary per tensor costs page faults
    for name, tensor in scores.items():
        flat, mask = _flat32(tensor), masks[name].view(-1)
        torch.gt(flat, high, out=mask)
        above += int(torch.count_nonzero(mask))
        if flat.device not in buffers:
            largest = max(t.numel() for t in scores.values() if t.device == flat.device)
            buffers[flat.device] = torch.empty(largest, dtype=torch.bool, device=flat.device)
        inside = torch.ge(flat, low, out=buffers[flat.device][:len(flat)])
        inside ^= mask
        index = inside.nonzero().squeeze(1)
        positions.append(index)
        values.append(flat[index].cpu())
    return above, positions, torch.cat(values)


def _winners(values: torch.Tensor, rank: int) -> torch.Tensor:
    """Boolean mask of the `rank` largest `values`; ties go to the earlier entries."""
    threshold = values.kthvalue(len(values) - rank + 1).values
    chosen = values > threshold
    equal = values == threshold
    chosen |= equal & (equal.cumsum(0) <= rank - int(torch.count_nonzero(chosen)))
    return chosen


def global_topk_mask(scores: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """Boolean masks shaped like `scores`, exactly k True in all: the k largest scores overall.

    Ties: among equal scores the entry earlier in (dict order, then flat index) wins.
    Scores are compared as float32 (float64 values equal after rounding to float32 tie; -0.0
    equals +0.0). ValueError for NaN scores (naming the tensor) or k outside [1, total].
    The result does not depend on the sample (only the time does). Memory beyond the masks
    (1 byte per score): a float32 copy of the largest non-float32 tensor, two comparison
    temporaries as large as the largest tensor (1 byte per score), and the positions and
    values of the bracketed scores (at most about 12 / sqrt(SAMPLE) = 5% of all, usually far
    fewer). Time: two passes over the scores (NaN check, split); roberta-base's 124M: well
    under 2 s on two CPU cores.
    """
    total = sum(t.numel() for t in scores.values())
    if not 1 <= k <= total:
        raise ValueError(f"k={k} must be between 1 and the {total} scores given")
    _check_no_nan(scores)
    low, high = (-math.inf, math.inf) if total <= SAMPLE else _bracket(scores, k, total)
    masks = {name: torch.empty(t.shape, dtype=torch.bool, device=t.device) for name, t in scores.items()}
    while True:
        above, positions, values = _split(scores, masks, low, high)
        if above >= k:  # the k-th largest is at or above `high`
            low, high = high, math.inf
        elif above + len(values) < k:  # ... at or below `low`
            low, high = -math.inf, low
        else:
            break
    chosen = _winners(values, k - above).split([len(p) for p in positions])
    for (name, mask), index, won in zip(masks.items(), positions, chosen):
        mask.view(-1)[index[won.to(index.device)]] = True
    return masks
