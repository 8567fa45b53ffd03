"""AdamW whose state covers only the selected entries of each parameter.

Each trained tensor contributes either all of its entries (`index=None`) or the flat
positions in `index`. Gradients of those entries are gathered into one flat vector of
length k; clipping, the moment estimates and the update all live in that vector, and the
update is scattered back with `index_add_`, so entries outside the subset are never
written (bit-identical after training). With weight decay 0, the updates equal
`torch.optim.AdamW` on the masked gradient followed by `clip_grad_norm_`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TrainedEntries:
    """One parameter and the flat positions of its selected entries (None = all)."""

    param: torch.nn.Parameter
    index: torch.Tensor | None = None

    @property
    def size(self) -> int:
        return self.param.numel() if self.index is None else self.index.numel()


class MaskedAdamW:
    """AdamW (no weight decay) over k selected entries, with global grad-norm clipping."""

    def __init__(self, entries: list[TrainedEntries], *, betas=(0.9, 0.999), eps: float = 1e-8,
                 max_grad_norm: float | None = 5.0):
        if not entries:
            raise ValueError("MaskedAdamW needs at least one trained entry")
        self.entries = entries
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.max_grad_norm = max_grad_norm
        k = sum(e.size for e in entries)
        like = entries[0].param
        self.exp_avg = torch.zeros(k, dtype=like.dtype, device=like.device)
        self.exp_avg_sq = torch.zeros_like(self.exp_avg)
        self.steps = 0

    @property
    def state_bytes(self) -> int:
        """Bytes of optimizer state: two moments plus the index of every selected entry."""
        moments = 2 * self.exp_avg.numel() * self.exp_avg.element_size()
        return moments + sum(e.index.numel() * e.index.element_size() for e in self.entries if e.index is not None)

    def _gather_grad(self) -> torch.Tensor:
        parts = []
        for e in self.entries:
            grad = e.param.grad
            if grad is None:
                grad = torch.zeros_like(e.param)
            flat = grad.reshape(-1)
            parts.append(flat if e.index is None else flat.index_select(0, e.index))
        return torch.cat(parts)

    @torch.no_grad()
    def step(self, lr: float) -> float:
        """One update at learning rate `lr`; returns the gradient norm before clipping.

        A non-finite gradient norm skips the update (the caller records divergence)."""
        grad = self._gather_grad()
        norm = torch.linalg.vector_norm(grad)
        if not torch.isfinite(norm):
            return float(norm)  # diverged: leave the parameters as they are
        if self.max_grad_norm is not None:
            grad.mul_(torch.clamp(self.max_grad_norm / (norm + 1e-6), max=1.0))
        self.steps += 1
        self.exp_avg.lerp_(grad, 1 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        bias_correction1 = 1 - self.beta1**self.steps
        bias_correction2 = 1 - self.beta2**self.steps
        denom = (self.exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(self.eps)
        update = (self.exp_avg / denom).mul_(-lr / bias_correction1)
        offset = 0
        for e in self.entries:
            part = update[offset : offset + e.size]
            flat = e.param.data.view(-1)
            if e.index is None:
                flat.add_(part)
            else:
                flat.index_add_(0, e.index, part)
            offset += e.size
        return float(norm)

    def zero_grad(self) -> None:
        for e in self.entries:
            e.param.grad = None
