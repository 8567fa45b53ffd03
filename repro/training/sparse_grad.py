"""Weight gradients of the selected entries only, for nn.Linear and nn.Embedding layers.

Backward through `y = x W^T + b` computes `grad_x = g W` (earlier layers need it) and
`grad_W = g^T x`, a dense (out, in) matrix of which masked training keeps k entries.
`selected_weight_grads(model, entries)` temporarily gives each nn.Linear / nn.Embedding
whose weight is partially selected (a `TrainedEntries` with an index) a `forward` through
an autograd Function that computes the same output from the same parameter, returns
`grad_x` (and a bias gradient) densely, and adds the gradient of the k selected weight
entries to `entry.grad` (its slice of MaskedAdamW's flat gradient, so the optimizer must
exist first); the weight itself gets no gradient. For a linear layer each selected
`grad_W[i, j] = sum_t g[t, i] x[t, j]` is a dot product over tokens (gathered in chunks);
for an embedding only rows of tokens present in the batch are non-zero.

Where the dense product is cheaper the layer keeps its own forward and autograd's dense
gradient (gathered by MaskedAdamW): a linear weight with more than
`SPARSE_LINEAR_MAX_DENSITY[device type]` of its entries selected, and every layer on a
device type without an entry there. Module code, parameters and state_dict are never
changed; leaving the block restores the class forward. Assumes no autocast (gradients have
the parameter's dtype).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from repro.training.masked_adamw import TrainedEntries

# Per device type, the largest selected fraction of a linear weight that takes the selected-entry
# path (embeddings take it at any fraction). Measured with benchmarks/sparse_crossover.py
# (`crossover` table, minilm-l6's shapes, 256 and 768 tokens, 1 thread): on CPU one gathered
# product costs about 50-100 multiply-adds of the dense g^T x whatever the token count, so the
# gather costs 0.52-0.75 of the dense product at 1% (once 1.03, 384x384 at 256 tokens) and breaks
# even at 1.5-2%. On CUDA (H100) these small layers are launch-bound: the dense kernel was faster at
# every density from 1e-4 (gather 0.9-1.6x at 1e-4, 2-5x at 1%), so CUDA keeps the plain path.
SPARSE_LINEAR_MAX_DENSITY = {"cpu": 0.01}
# Products gathered at once (tokens x entries): bounds the temporaries to a few MB.
GATHER_CHUNK_ELEMENTS = 1 << 18


def selected_products(g: torch.Tensor, x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """`out[n] = sum_t g[t, rows[n]] * x[t, cols[n]]` for 2-D `g` (tokens, out), `x` (tokens, in)."""
    out = g.new_empty(rows.numel())
    step = max(1, GATHER_CHUNK_ELEMENTS // max(1, g.shape[0]))
    for start in range(0, rows.numel(), step):
        part = slice(start, start + step)
        torch.sum(g.index_select(1, rows[part]).mul_(x.index_select(1, cols[part])), 0, out=out[part])
    return out


def embedding_selected_grad(ids: torch.Tensor, g: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                            num_rows: int, padding_idx: int | None) -> torch.Tensor:
    """`out[n] = sum of g[t, cols[n]] over positions t with ids[t] == rows[n]`; 0 for `padding_idx`.

    Sums only the rows of tokens present in `ids` (shape: any); `g` has one row per id."""
    ids = ids.reshape(-1)
    g = g.reshape(ids.numel(), -1)
    present, slot_of_position = torch.unique(ids, return_inverse=True)
    absent = present.numel()  # the slot of a zero row
    sums = g.new_zeros(absent + 1, g.shape[1]).index_add_(0, slot_of_position, g)
    slot = torch.full((num_rows,), absent, dtype=torch.long, device=ids.device)
    slot[present] = torch.arange(absent, device=ids.device)
    if padding_idx is not None:
        slot[padding_idx] = absent
    return sums.view(-1).index_select(0, slot.index_select(0, rows) * g.shape[1] + cols)


class _LinearSelectedGrad(torch.autograd.Function):
    """`F.linear(x, weight, bias)`; gradients for x and bias; the selected weight entries'
    gradient is added to `selected_grad` (the weight's own gradient stays None)."""

    @staticmethod
    def forward(ctx, x, weight, bias, selected_grad, rows, cols):
        ctx.save_for_backward(x, weight, rows, cols)
        ctx.selected_grad = selected_grad
        return F.linear(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x, weight, rows, cols = ctx.saved_tensors
        g = grad_out.reshape(-1, grad_out.shape[-1])  # one copy at most, shared by all three products
        grad_x = g.mm(weight).view(x.shape) if ctx.needs_input_grad[0] else None
        grad_bias = g.sum(0) if ctx.needs_input_grad[2] else None
        if ctx.needs_input_grad[1]:
            ctx.selected_grad.add_(selected_products(g, x.reshape(-1, x.shape[-1]), rows, cols))
        return grad_x, None, grad_bias, None, None, None


class _EmbeddingSelectedGrad(torch.autograd.Function):
    """`F.embedding(ids, weight, padding_idx)`; the selected weight entries' gradient is added
    to `selected_grad` (the weight's own gradient stays None)."""

    @staticmethod
    def forward(ctx, ids, weight, selected_grad, rows, cols, padding_idx):
        ctx.save_for_backward(ids, rows, cols)
        ctx.selected_grad, ctx.num_rows, ctx.padding_idx = selected_grad, weight.shape[0], padding_idx
        return F.embedding(ids, weight, padding_idx)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        ids, rows, cols = ctx.saved_tensors
        ctx.selected_grad.add_(embedding_selected_grad(ids, grad_out, rows, cols, ctx.num_rows, ctx.padding_idx))
        return None, None, None, None, None, None


def _rows_cols(entry: TrainedEntries) -> tuple[torch.Tensor, torch.Tensor]:
    if entry.grad is None:
        raise ValueError(f"selected_weight_grads: the selected entries of a {tuple(entry.param.shape)} weight have "
                         "no gradient buffer; create the MaskedAdamW that trains them first")
    width = entry.param.shape[1]
    return entry.index // width, entry.index % width


def _selected_forward(module: nn.Module, entry: TrainedEntries | None,
                     max_density: float | None = None) -> Callable | None:
    """The replacement forward of `module` for its weight's `entry`, or None where the plain
    path stays: no indexed entry, a module that is not exactly nn.Linear / nn.Embedding (or
    uses max_norm / scale_grad_by_freq), a linear weight denser than `max_density`, or
    `max_density=None` on a device type not in SPARSE_LINEAR_MAX_DENSITY."""
    if entry is None or entry.index is None or entry.param is not getattr(module, "weight", None):
        return None
    if max_density is None:
        max_density = SPARSE_LINEAR_MAX_DENSITY.get(entry.param.device.type)
        if max_density is None:
            return None
    if type(module).forward is nn.Linear.forward:
        if entry.index.numel() > max_density * entry.param.numel():
            return None
        rows, cols = _rows_cols(entry)
        return lambda x: _LinearSelectedGrad.apply(x, module.weight, module.bias, entry.grad, rows, cols)
    if type(module).forward is nn.Embedding.forward and module.max_norm is None and not module.scale_grad_by_freq:
        rows, cols = _rows_cols(entry)
        return lambda ids: _EmbeddingSelectedGrad.apply(ids, module.weight, entry.grad, rows, cols, module.padding_idx)
    return None


@contextmanager
def selected_weight_grads(model: nn.Module, entries: list[TrainedEntries],
                          max_density: float | None = None) -> Iterator[list[nn.Module]]:
    """Within the block, partially selected nn.Linear / nn.Embedding weights of `model` get
    gradients for their selected entries only, added to `entry.grad` (see module docstring).
    `max_density` overrides the device's SPARSE_LINEAR_MAX_DENSITY (and enables any device).

    Yields the modules switched to that path. Modules that already carry an instance-level
    forward are left alone. Parameters without a selected entry are not touched (the
    trainer sets `requires_grad=False` on them, so no gradient is computed)."""
    by_param = {id(e.param): e for e in entries if e.index is not None}
    patched = []
    try:
        for module in model.modules():
            if "forward" in module.__dict__:
                continue
            forward = _selected_forward(module, by_param.get(id(getattr(module, "weight", None))), max_density)
            if forward is not None:
                module.forward = forward
                patched.append(module)
        yield patched
    finally:
        for module in patched:
            del module.forward
