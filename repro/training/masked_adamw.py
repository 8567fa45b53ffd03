"""AdamW whose state covers only the selected entries of each parameter.

Each trained tensor contributes either all of its entries (`index=None`) or the flat
positions in `index`. A tensor with an index is represented in the optimizer by a small
leaf holding just its selected values: before a step their gradients are gathered into
it (repro.training.sparse_grad may compute them there directly), torch's AdamW updates it (state
of size k), and the values are copied back with `index_copy_`, so entries outside the
subset are never written (bit-identical after training). Gradient-norm clipping runs over
the trained entries only, after an optional `Penalty` (repro.training.penalties) adds its
gradient. With weight decay 0, the updates equal `torch.optim.AdamW` on the masked gradient after `clip_grad_norm_`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from repro.training.penalties import Penalty


@dataclass
class TrainedEntries:
    """One parameter and the flat positions of its selected entries (None = all)."""

    param: torch.nn.Parameter
    index: torch.Tensor | None = None
    values: torch.Tensor | None = field(default=None, repr=False)  # the optimizer's leaf when indexed

    def __post_init__(self):
        if self.index is not None:
            self.values = self.param.detach().reshape(-1).index_select(0, self.index).clone().requires_grad_(True)

    @property
    def size(self) -> int:
        return self.param.numel() if self.index is None else self.index.numel()

    @property
    def leaf(self) -> torch.Tensor:
        return self.param if self.index is None else self.values


class MaskedAdamW:
    """AdamW (no weight decay) over k selected entries, with global grad-norm clipping."""

    def __init__(self, entries: list[TrainedEntries], *, betas=(0.9, 0.999), eps: float = 1e-8,
                 max_grad_norm: float | None = 5.0, penalty: Penalty | None = None):
        if not entries:
            raise ValueError("MaskedAdamW needs at least one trained entry")
        self.entries = entries
        self.max_grad_norm = max_grad_norm
        self.penalty = penalty  # its gradient joins the task gradient before clipping
        self.optimizer = torch.optim.AdamW([e.leaf for e in entries], lr=0.0, betas=betas, eps=eps,
                                           weight_decay=0.0, foreach=True)

    @property
    def state_bytes(self) -> int:
        """Bytes of optimizer state: the two moments of every trained entry plus the indices."""
        k = sum(e.size for e in self.entries)
        itemsize = self.entries[0].param.element_size()
        return 2 * k * itemsize + sum(e.index.numel() * e.index.element_size() for e in self.entries if e.index is not None)

    def _gather_grads(self) -> list[torch.Tensor]:
        grads = []
        for e in self.entries:
            if e.index is None:
                if e.param.grad is None:
                    e.param.grad = torch.zeros_like(e.param)
            elif e.param.grad is not None:  # moved, and added to what repro.training.sparse_grad put in values.grad
                gathered = e.param.grad.reshape(-1).index_select(0, e.index)
                e.values.grad = gathered if e.values.grad is None else e.values.grad.add_(gathered)
                e.param.grad = None
            elif e.values.grad is None:
                e.values.grad = torch.zeros_like(e.values)
            grads.append(e.leaf.grad)
        return grads

    @torch.no_grad()
    def step(self, lr: float) -> float:
        """One update at learning rate `lr`; returns the gradient norm before clipping.

        A non-finite gradient norm skips the update (the caller records divergence)."""
        grads = self._gather_grads()
        if self.penalty is not None:
            self.penalty.add_gradients()
        norm = torch.nn.utils.get_total_norm(grads, foreach=True)
        if not torch.isfinite(norm):
            return float(norm)
        if self.max_grad_norm is not None:
            torch.nn.utils.clip_grads_with_norm_([e.leaf for e in self.entries], self.max_grad_norm, norm, foreach=True)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        for e in self.entries:
            if e.index is not None:
                e.param.data.view(-1).index_copy_(0, e.index, e.values.detach())
        return float(norm)

    def zero_grad(self) -> None:
        for e in self.entries:
            e.param.grad = None
            if e.values is not None:
                e.values.grad = None
