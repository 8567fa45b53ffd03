"""Subset selectors: which encoder entries a run may change. The variants that use them, by
name, are in `repro.variants`.

Contract of every selector: `select(params, k, seed, stats) -> Mask` returns boolean tensors
shaped like `params` with exactly `k` True entries in all, and the same mask for the same
inputs. `stats` (a `repro.selection.statistics.GradientStats`) is only read by score-based
selectors, which take the k largest scores over the whole encoder (ties: earlier tensor,
then lower flat index, see `repro.selection.topk`).
Subset sizes are fractions of the encoder's parameters (the task decoder is excluded);
`k = round(fraction * n)`, at least 1. Fixed-size selectors (BitFit, full fine-tuning)
define their own k and reject any other.
"""
from __future__ import annotations

from typing import Callable

import torch

from repro.selection.topk import global_topk_mask

Mask = dict[str, torch.Tensor]
Params = dict[str, torch.Tensor]


def count_parameters(params: Params) -> int:
    return sum(p.numel() for p in params.values())


def mask_size(mask: Mask) -> int:
    return int(sum(int(m.sum()) for m in mask.values()))


def is_bias(name: str) -> bool:
    return name.endswith("bias")


def subset_k(params: Params, fraction: float) -> int:
    """Entries in a subset of `fraction` of the encoder's parameters."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"subset size {fraction!r} must be a fraction in (0, 1]")
    return max(1, round(fraction * count_parameters(params)))


def bitfit_k(params: Params) -> int:
    return sum(p.numel() for name, p in params.items() if is_bias(name))


def bitfit_fraction(params: Params) -> float:
    """BitFit's share of the encoder: the default subset size of the study."""
    return bitfit_k(params) / count_parameters(params)


def _check_k(params: Params, k: int) -> None:
    total = count_parameters(params)
    if not 1 <= k <= total:
        raise ValueError(f"k={k} must be between 1 and the encoder's {total} parameters")


def select_random(params: Params, k: int, seed: int, stats=None) -> Mask:
    """k entries uniformly at random over all encoder parameters, without replacement."""
    _check_k(params, k)
    total = count_parameters(params)
    generator = torch.Generator().manual_seed(seed)
    flat = torch.zeros(total, dtype=torch.bool)
    flat[torch.randperm(total, generator=generator)[:k]] = True
    return _split_flat(params, flat)


def select_bitfit(params: Params, k: int, seed: int, stats=None) -> Mask:
    """Every bias term of the encoder (LayerNorm biases included); k must equal their count."""
    _require_fixed_k("bitfit", k, bitfit_k(params))
    return {name: torch.full(p.shape, is_bias(name), dtype=torch.bool) for name, p in params.items()}


def select_full(params: Params, k: int, seed: int, stats=None) -> Mask:
    """Every encoder entry (full fine-tuning); k must equal the encoder's size."""
    _require_fixed_k("full", k, count_parameters(params))
    return {name: torch.ones(p.shape, dtype=torch.bool) for name, p in params.items()}


def _largest_scores(selector: str, params: Params, k: int, stats, scores_of: Callable) -> Mask:
    _check_k(params, k)
    if stats is None:
        raise ValueError(f"selector {selector!r} needs gradient statistics (stats=None given)")
    scores = scores_of(stats)
    return global_topk_mask({name: scores[name] for name in params}, k)


def select_largest_downstream_sqgrad(params: Params, k: int, seed: int, stats=None) -> Mask:
    """The k entries with the largest downstream empirical Fisher (Sung et al., 2021)."""
    return _largest_scores("largest_downstream_sqgrad", params, k, stats, lambda s: s.downstream())


def select_largest_pretrain_sqgrad(params: Params, k: int, seed: int, stats=None) -> Mask:
    """The k entries with the largest pretraining (MLM on WikiText) empirical Fisher."""
    return _largest_scores("largest_pretrain_sqgrad", params, k, stats, lambda s: s.pretraining())


def combined_scores(downstream: dict[str, torch.Tensor], pretraining: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Paper eq. 3: F_down / (1 + F_pretr), entry by entry."""
    return {name: downstream[name] / (1.0 + pretraining[name]) for name in downstream}


def select_combined(params: Params, k: int, seed: int, stats=None) -> Mask:
    """The k entries with the largest combined score (eq. 3): large on the task, small in pretraining."""
    return _largest_scores("combined", params, k, stats, lambda s: combined_scores(s.downstream(), s.pretraining()))


def select_diff_pruning(params: Params, k: int, seed: int, stats=None) -> Mask:
    """Diff pruning (L1 instead of L0): the k entries that moved most, |theta - theta_0|, in a
    full fine-tuning run with an L1 penalty toward theta_0 (`repro.training.tuned_weights`)."""
    return _largest_scores("diff_pruning", params, k, stats, lambda s: s.pruning_magnitudes())


def _require_fixed_k(selector: str, k: int, natural: int) -> None:
    if k != natural:
        raise ValueError(f"selector {selector!r} always selects {natural} entries, got k={k}")


def _split_flat(params: Params, flat: torch.Tensor) -> Mask:
    mask, offset = {}, 0
    for name, p in params.items():
        mask[name] = flat[offset : offset + p.numel()].view(p.shape).clone()
        offset += p.numel()
    return mask
