"""AdamW whose state covers only the selected entries of each parameter.

Each trained tensor contributes either all of its entries (`index=None`) or the flat
positions in `index`. The optimizer keeps the trained entries in one flat tensor, the single
leaf of torch's AdamW for them, with a flat gradient of the same layout. A step moves the
parameters' dense gradients into the flat gradient (repro.training.sparse_grad computes the
selected entries' gradients there directly), lets an optional `Penalty`
(repro.training.penalties) add its gradient, clips by the norm over the trained entries, makes
one AdamW update of the flat tensor and copies its values back (`put_`), so entries
outside the subset are never written (bit-identical after training). Whole tensors of at least
OWN_LEAF_MIN_ENTRIES entries (full fine-tuning's weight matrices) stay leaves of their own.

The arithmetic is that of one AdamW leaf per entry (trained weights are bit-identical to it):
torch's AdamW is elementwise, and the norm is taken entry by entry, then over the entries'
norms. With weight decay 0, the updates equal `torch.optim.AdamW` on the masked gradient after
`clip_grad_norm_`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from repro.training.penalties import Penalty

# Whole tensors with at least this many entries are AdamW leaves of their own: copying a large
# tensor's gradient in and its values out costs more than the fixed per-leaf work it saves (the
# optimizer step of minilm-l6's full fine-tuning, 1 thread: 103 ms with its weight matrices as
# leaves, 118 ms with every tensor copied through the flat buffer). Every tensor of BitFit, LoRA
# and the decoders is below it (BitFit's step: 0.41 ms as one flat leaf, 0.79 ms as 51 leaves).
OWN_LEAF_MIN_ENTRIES = 1 << 16


@dataclass
class TrainedEntries:
    """One parameter and the flat positions of its selected entries (None = all).

    `grad` is set by the MaskedAdamW that keeps the entries in its flat buffer: a 1-D view of
    its flat gradient (in `index` order), where repro.training.sparse_grad adds the gradients
    it computes; None for a whole tensor that is a leaf of its own."""

    param: torch.nn.Parameter
    index: torch.Tensor | None = None
    grad: torch.Tensor | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return self.param.numel() if self.index is None else self.index.numel()

    @property
    def in_flat_buffer(self) -> bool:
        return self.index is not None or self.param.numel() < OWN_LEAF_MIN_ENTRIES

    def selected(self) -> torch.Tensor:
        """The entries' current values, 1-D in `index` order (a view of a whole tensor)."""
        flat = self.param.detach().reshape(-1)
        return flat if self.index is None else flat.index_select(0, self.index)


class MaskedAdamW:
    """AdamW (no weight decay) over k selected entries, with global grad-norm clipping."""

    def __init__(self, entries: list[TrainedEntries], *, betas=(0.9, 0.999), eps: float = 1e-8,
                 max_grad_norm: float | None = 5.0, penalty: Penalty | None = None):
        if not entries:
            raise ValueError("MaskedAdamW needs at least one trained entry")
        kinds = {(e.param.device, e.param.dtype) for e in entries}
        if len(kinds) > 1:
            raise ValueError(f"MaskedAdamW needs every trained parameter on one device with one dtype, got {kinds}")
        self.entries = entries
        self.max_grad_norm = max_grad_norm
        self.penalty = penalty  # its gradient joins the task gradient before clipping
        if penalty is not None:
            position = {id(e): i for i, e in enumerate(entries)}
            if any(id(e) not in position for e in penalty.entries):
                raise ValueError("MaskedAdamW: the penalty covers entries that the optimizer does not train")
            self._penalised = [position[id(e)] for e in penalty.entries]
        flat = [e for e in entries if e.in_flat_buffer]
        self.values = None  # the flat entries' values, concatenated; its .grad is the flat gradient
        views = {}  # id(entry) -> (its 1-D views of self.values and of the flat gradient)
        if flat:
            self.values = torch.cat([e.selected() for e in flat])
            self.values.grad = torch.zeros_like(self.values)
            sizes = [e.size for e in flat]
            views = dict(zip(map(id, flat), zip(self.values.detach().split(sizes), self.values.grad.split(sizes))))
        for e in entries:
            e.grad = views[id(e)][1] if id(e) in views else None
        # per entry, in order: (entry, its view of self.values; None for a leaf of its own)
        self._slots = [(e, views[id(e)][0] if id(e) in views else None) for e in entries]
        self._leaves = ([self.values] if flat else []) + [e.param for e in entries if id(e) not in views]
        self.optimizer = torch.optim.AdamW(self._leaves, lr=0.0, betas=betas, eps=eps, weight_decay=0.0, foreach=True)

    @property
    def state_bytes(self) -> int:
        """Bytes of optimizer state: the two moments of every trained entry plus the indices."""
        k = sum(e.size for e in self.entries)
        itemsize = self.entries[0].param.element_size()
        return 2 * k * itemsize + sum(e.index.numel() * e.index.element_size() for e in self.entries if e.index is not None)

    def _gather_grads(self) -> list[torch.Tensor]:
        """Move the parameters' dense gradients into the flat gradient (added to what
        repro.training.sparse_grad put there); returns every entry's gradient, 1-D in index order."""
        grads = []
        for e, values in self._slots:
            dense = e.param.grad
            if values is None:  # a leaf of its own
                if dense is None:
                    dense = e.param.grad = torch.zeros_like(e.param)
                grads.append(dense.view(-1))
                continue
            if dense is not None:
                if e.index is None:
                    e.grad.copy_(dense.reshape(-1))
                else:
                    e.grad.add_(dense.reshape(-1).index_select(0, e.index))
                e.param.grad = None
            grads.append(e.grad)
        return grads

    @torch.no_grad()
    def step(self, lr: float) -> float:
        """One update at learning rate `lr`; returns the gradient norm before clipping.

        A non-finite gradient norm skips the update (the caller records divergence). The norm
        is taken entry by entry, then over the entries' norms (as torch's over one tensor per entry)."""
        grads = self._gather_grads()
        if self.penalty is not None:
            self.penalty.add_gradients([grads[i] for i in self._penalised])
        norm = torch.nn.utils.get_total_norm(grads, foreach=True)
        norm_value = float(norm)
        if not math.isfinite(norm_value):
            return norm_value
        if self.max_grad_norm is not None:
            torch.nn.utils.clip_grads_with_norm_(self._leaves, self.max_grad_norm, norm, foreach=True)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        for e, values in self._slots:
            if values is not None:
                if e.index is None:
                    e.param.data.view(-1).copy_(values)
                else:
                    e.param.data.put_(e.index, values)
        return norm_value

    def zero_grad(self) -> None:
        if self.values is not None:
            self.values.grad.zero_()
        for e in self.entries:
            e.param.grad = None
