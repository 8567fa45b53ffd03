"""Global top-k over many score tensors, exact, without concatenating them.

The k-th largest score is found by a radix select on order-preserving integer keys of the
float32 scores: two passes over all tensors, each a 16-bit-digit histogram of the entries that
share the digits found so far; a third pass writes the masks.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch

CHUNK = 1 << 22  # entries per working chunk: bounds the temporary memory
_DIGIT_BITS = 16
_BINS = 1 << _DIGIT_BITS


def _keys(values: torch.Tensor) -> torch.Tensor:
    """int64 keys in [0, 2^32) with the order of `values` as float32 (-0.0 equal to +0.0)."""
    bits = (values.to(torch.float32) + 0.0).view(torch.int32).to(torch.int64)  # + 0.0 turns -0.0 into +0.0
    return torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits) + (1 << 31)


def _chunks(scores: dict[str, torch.Tensor]) -> Iterator[tuple[str, int, torch.Tensor]]:
    """(name, flat offset, keys) for every chunk, in dict order then flat index."""
    for name, tensor in scores.items():
        flat = tensor.detach().reshape(-1)
        for offset in range(0, flat.numel(), CHUNK):
            yield name, offset, _keys(flat[offset:offset + CHUNK])


def _kth_largest_key(scores: dict[str, torch.Tensor], k: int) -> tuple[int, int]:
    """(key of the k-th largest score, how many entries with that key belong to the top k)."""
    prefix, rank = 0, k  # rank: position of the k-th largest among entries matching `prefix`
    for shift in range(32 - _DIGIT_BITS, -1, -_DIGIT_BITS):
        histogram = torch.zeros(_BINS, dtype=torch.int64)
        for _, _, keys in _chunks(scores):
            if shift + _DIGIT_BITS < 32:
                keys = keys[(keys >> (shift + _DIGIT_BITS)) == prefix]
            histogram += torch.bincount((keys >> shift) & (_BINS - 1), minlength=_BINS).cpu()
        from_top = histogram.flip(0).cumsum(0)  # from_top[j]: entries with digit >= _BINS - 1 - j
        j = int(torch.searchsorted(from_top, rank))
        digit = _BINS - 1 - j
        rank -= int(from_top[j] - histogram[digit])
        prefix = (prefix << _DIGIT_BITS) | digit
    return prefix, rank


def global_topk_mask(scores: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """Boolean masks shaped like `scores`, exactly k True in all: the k largest scores overall.

    Ties: among equal scores the entry earlier in (dict order, then flat index) wins.
    Scores are compared as float32 (float64 values equal after rounding to float32 tie; -0.0
    equals +0.0). ValueError for NaN scores (naming the tensor) or k outside [1, total].
    Memory: the masks (1 byte per score), a NaN check as large as the largest tensor, and
    temporaries of O(CHUNK) (about 200 MB) whatever the number of scores; time: three passes
    over the scores (roberta-base's 124M: about 5 s on one CPU core).
    """
    total = sum(t.numel() for t in scores.values())
    if not 1 <= k <= total:
        raise ValueError(f"k={k} must be between 1 and the {total} scores given")
    for name, tensor in scores.items():
        if bool(torch.isnan(tensor).any()):
            raise ValueError(f"scores of {name!r} contain NaN")
    threshold, ties_left = _kth_largest_key(scores, k)
    masks = {name: torch.zeros(t.numel(), dtype=torch.bool, device=t.device) for name, t in scores.items()}
    for name, offset, keys in _chunks(scores):
        chosen = keys > threshold
        if ties_left:
            equal = keys == threshold
            equal &= equal.cumsum(0) <= ties_left
            ties_left -= int(equal.sum())
            chosen |= equal
        masks[name][offset:offset + len(keys)] = chosen
    return {name: masks[name].view(t.shape) for name, t in scores.items()}
