"""Empirical Fisher of the encoder (paper eq. 2): F = sum_i (grad_theta loss_i)^2, per sample.

The loss of one sample is -log p(y_i | x_i): the cross-entropy of its label (sequence tasks),
or the SUM of the token cross-entropies over its labelled tokens (token tasks; a sentence is
one sample). Only encoder parameters are scored (names as in `encoder_parameters`); the decoder
is used but not scored. The model is moved to `device` and runs in eval mode (no dropout);
its parameters are left unchanged and its train/eval mode is restored. Scores are float32
tensors on the CPU.

`empirical_fisher_loop` is the plain reference: one forward and backward per unpadded sample.
`empirical_fisher` gets the same per-sample gradients from ONE forward and backward of a padded
batch. The samples of a batch do not interact, so the gradient of the summed loss with respect
to a module's output at sample i equals the gradient of loss_i alone; forward hooks keep each
scored module's input x and output y, one backward gives g = d loss / d y (no parameter
gradients), and the per-sample parameter gradients follow in closed form:
- nn.Linear (y = x W^T + b): grad W_i = g_i^T x_i over the sample's unpadded tokens (one matmul
  per sample into a reused buffer, squared into F in place), grad b_i = sum_t g_i[t];
- nn.LayerNorm: grad w_i = sum_t g_i[t] * xhat_i[t] (xhat: x normalised), grad b_i = sum_t g_i[t];
- nn.Embedding: row v of sample i gets sum_{t: ids_i[t] = v} g_i[t], so only looked-up rows are
  touched (a dense per-sample gradient of the vocabulary matrix would be mostly zeros); the
  padding row gets nothing, as nn.Embedding never updates it.
Padded positions are masked out of g explicitly (attention already gives them weight 0).
An encoder outside these assumptions (another parameter-owning module type, a module called
twice per forward, an output modified in place) is scored by the loop instead, with a warning.
"""
from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from tqdm import tqdm

from repro.data.encoding import IGNORE_INDEX, EncodedExample, collate
from repro.models import TaskModel

_INPUT_KEYS = ("input_ids", "attention_mask", "token_type_ids")
_SCORED_MODULES = (nn.Linear, nn.LayerNorm, nn.Embedding)


@dataclass(frozen=True)
class FisherResult:
    scores: dict[str, torch.Tensor]  # encoder parameter name -> sum over samples of the squared per-sample gradient
    samples: int  # N actually used
    seconds: float
    backward_passes: int  # backward passes made (one per batch or per sample), for the cost table


def sample_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-log p(labels | x) of one sample: summed cross-entropy, positions labelled -100 ignored.

    On a batch it is the sum of the samples' losses."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                           ignore_index=IGNORE_INDEX, reduction="sum")


def _check_n(encoded: list[EncodedExample], n_samples: int) -> None:
    if not 1 <= n_samples <= len(encoded):
        raise ValueError(f"n_samples={n_samples} must be between 1 and the {len(encoded)} examples given")


@contextlib.contextmanager
def _scoring(model: TaskModel, device: str) -> Iterator[dict[str, torch.Tensor]]:
    """Eval mode on `device`; yields every parameter, detached, keyed by its name in `model`."""
    was_training = model.training
    model.to(device).eval()
    try:
        yield {name: p.detach() for name, p in model.named_parameters()}
    finally:
        model.train(was_training)


def _result(sums: dict[str, torch.Tensor], samples: int, start: float, passes: int) -> FisherResult:
    scores = {name.removeprefix("encoder."): s.float().cpu() for name, s in sums.items()}
    return FisherResult(scores, samples, time.perf_counter() - start, passes)


def empirical_fisher_loop(model: TaskModel, encoded: list[EncodedExample], *, pad_token_id: int, n_samples: int,
                          device: str = "cpu") -> FisherResult:
    """Reference: F over the first `n_samples` of `encoded`, one forward and backward per sample."""
    _check_n(encoded, n_samples)
    start = time.perf_counter()
    with _scoring(model, device) as params:
        scored = {name: p.requires_grad_(True) for name, p in params.items() if name.startswith("encoder.")}
        sums = {name: torch.zeros_like(p, dtype=torch.float32) for name, p in scored.items()}
        for example in encoded[:n_samples]:
            batch = {k: v.to(device) for k, v in collate([example], pad_token_id).items()}
            inputs = {k: batch[k] for k in _INPUT_KEYS if k in batch}
            loss = sample_loss(functional_call(model, (params,), kwargs=inputs), batch["labels"])
            grads = torch.autograd.grad(loss, list(scored.values()), allow_unused=True)
            for name, g in zip(scored, grads):
                if g is not None:
                    sums[name] += g.float().square()
    return _result(sums, n_samples, start, n_samples)


class _Unsupported(Exception):
    """The encoder breaks an assumption of the batched path (the message says which)."""


def _scored_modules(encoder: nn.Module) -> list[tuple[str, nn.Module]]:
    """(parameter name prefix, module) of every encoder module owning parameters."""
    found = []
    for name, module in encoder.named_modules():
        if next(module.parameters(recurse=False), None) is None:
            continue
        if type(module) not in _SCORED_MODULES or (isinstance(module, nn.Embedding) and module.max_norm is not None):
            raise _Unsupported(f"{type(module).__name__} {name!r} is not one of "
                               f"{[t.__name__ for t in _SCORED_MODULES]} (Embedding without max_norm)")
        found.append((f"encoder.{name}." if name else "encoder.", module))
    return found


@dataclass
class _Record:
    """One scored module's call in a batch: its input (ids for embeddings) and its output."""

    prefix: str  # of its parameters' names in the task model, e.g. "encoder.layer.0.output.dense."
    module: nn.Module
    inputs: torch.Tensor
    output: torch.Tensor
    version: int


@contextlib.contextmanager
def _recording(modules: list[tuple[str, nn.Module]], batch_size: list[int]) -> Iterator[list[_Record]]:
    """Forward hooks appending a `_Record` per scored call. Embedding outputs become leaves that
    require grad (the graph starts there; no parameter gradient is ever formed), broadcast to
    `batch_size[0]` samples when a module is called once for the whole batch (position ids)."""
    records: list[_Record] = []

    def hook(prefix, module, args, output):
        inputs = args[0]
        if isinstance(module, nn.Embedding):
            shape = (batch_size[0], *output.shape[1:])
            inputs = inputs.expand(shape[:-1])
            output = output.expand(shape).detach().requires_grad_(True)
        records.append(_Record(prefix, module, inputs, output, output._version))
        return output

    handles = [module.register_forward_hook(lambda m, a, o, prefix=prefix: hook(prefix, m, a, o))
               for prefix, module in modules]
    try:
        yield records
    finally:
        for handle in handles:
            handle.remove()


def _add_row_scores(table: torch.Tensor, ids: torch.Tensor, keep: torch.Tensor, row_grads: torch.Tensor) -> None:
    """table[v] += sum_i (sum_{t: ids[i,t] = v, keep[i,t]} row_grads[i,t])^2, for ids (B, L), row_grads (B, L, H)."""
    keys = (torch.arange(ids.shape[0], device=ids.device)[:, None] * table.shape[0] + ids)[keep]
    unique, inverse = torch.unique(keys, return_inverse=True)
    per_sample = torch.zeros(len(unique), table.shape[1], device=table.device,
                             dtype=row_grads.dtype).index_add_(0, inverse, row_grads[keep])
    table.index_add_(0, unique % table.shape[0], per_sample.square_().to(table.dtype))


def _add_sq_sum(total: torch.Tensor, per_sample: torch.Tensor) -> None:
    """total += sum over dim 0 of per_sample^2 (squared in place)."""
    total += per_sample.square_().sum(0).to(total.dtype)


def _add_sq_outer(total: torch.Tensor, g: torch.Tensor, x: torch.Tensor, lengths: list[int]) -> None:
    """total += sum_i (g_i[:n_i]^T x_i[:n_i])^2 for g (B, T, out), x (B, T, in): one per-sample gradient of
    a weight matrix at a time, in a reused buffer small enough to stay in cache (no (B, out, in) tensor)."""
    buffer = torch.empty(g.shape[-1], x.shape[-1], dtype=g.dtype, device=g.device)
    for i, n in enumerate(lengths):
        torch.mm(g[i, :n].T, x[i, :n], out=buffer)
        total.addcmul_(buffer, buffer)


@torch.no_grad()
def _score_record(record: _Record, grad: torch.Tensor, keep: torch.Tensor, lengths: list[int],
                  sums: dict[str, torch.Tensor]) -> None:
    """Add the record's per-sample squared parameter gradients to `sums` (keyed by parameter name).
    `keep` (B, T) marks the unpadded positions, the first `lengths[i]` of sample i."""
    module, prefix = record.module, record.prefix
    batch = grad.shape[0]
    if isinstance(module, nn.Embedding):
        rows = keep if module.padding_idx is None else keep & (record.inputs != module.padding_idx)
        _add_row_scores(sums[prefix + "weight"], record.inputs, rows, grad)
        return
    g = grad.reshape(batch, -1, grad.shape[-1]) * keep.reshape(batch, -1, 1).to(grad.dtype)
    x = record.inputs.reshape(batch, -1, record.inputs.shape[-1])
    if isinstance(module, nn.LayerNorm):
        if module.weight is not None:
            _add_sq_sum(sums[prefix + "weight"], (g * F.layer_norm(x, module.normalized_shape, eps=module.eps)).sum(1))
    elif module.weight is not None:
        _add_sq_outer(sums[prefix + "weight"], g, x, lengths)
    if module.bias is not None:
        _add_sq_sum(sums[prefix + "bias"], g.sum(1))


def empirical_fisher(model: TaskModel, encoded: list[EncodedExample], *, pad_token_id: int, n_samples: int,
                     batch_size: int = 16, device: str = "cpu", progress: bool = True) -> FisherResult:
    """F over the first `n_samples` of `encoded`, `batch_size` samples per forward and backward.

    Equals `empirical_fisher_loop` up to float rounding. Samples are sorted by length before
    batching (less padding; F is a sum). Every encoder module owning parameters must be an
    nn.Linear, nn.LayerNorm or nn.Embedding called once per forward on per-position inputs
    whose first dimension is the batch, as in BERT-style encoders; otherwise a warning says
    why and the loop scores instead. Memory: the activations of a batch, kept for the
    backward, plus one per-sample gradient of a weight matrix at a time (e.g. 9.4 MB for
    roberta-base's feed-forward ones).
    """
    _check_n(encoded, n_samples)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    start = time.perf_counter()
    try:
        sums, passes = _batched_sums(model, encoded, pad_token_id, n_samples, batch_size, device, progress)
    except _Unsupported as reason:
        warnings.warn(f"empirical_fisher: {reason}; scoring one sample per backward instead", stacklevel=2)
        return empirical_fisher_loop(model, encoded, pad_token_id=pad_token_id, n_samples=n_samples, device=device)
    return _result(sums, n_samples, start, passes)


def _batched_sums(model: TaskModel, encoded: list[EncodedExample], pad_token_id: int, n_samples: int,
                  batch_size: int, device: str, progress: bool) -> tuple[dict[str, torch.Tensor], int]:
    """(sums keyed by the task model's parameter names, passes made); _Unsupported when the
    encoder breaks the batched path's assumptions (found at the first batch)."""
    modules = _scored_modules(model.encoder)
    current_batch = [0]
    with _scoring(model, device) as params, _recording(modules, current_batch) as records:
        sums = {name: torch.zeros_like(p, dtype=torch.float32) for name, p in params.items() if name.startswith("encoder.")}
        order = sorted(range(n_samples), key=lambda i: len(encoded[i].input_ids))
        passes = 0
        with tqdm(total=n_samples, desc="fisher", disable=not progress, leave=False, mininterval=10.0) as bar:
            for offset in range(0, n_samples, batch_size):
                chunk = [encoded[i] for i in order[offset:offset + batch_size]]
                batch = {k: v.to(device) for k, v in collate(chunk, pad_token_id).items()}
                current_batch[0] = len(chunk)
                records.clear()
                inputs = {k: batch[k] for k in _INPUT_KEYS if k in batch}
                loss = sample_loss(functional_call(model, (params,), kwargs=inputs), batch["labels"])
                _check_records(records, len(modules), batch["attention_mask"].shape)
                grads = torch.autograd.grad(loss, [r.output for r in records], allow_unused=True, materialize_grads=True)
                keep = batch["attention_mask"].bool()
                lengths = [len(example.input_ids) for example in chunk]
                for record, grad in zip(records, grads):
                    _score_record(record, grad, keep, lengths, sums)
                passes += 1
                bar.update(len(chunk))
        records.clear()
    return sums, passes


def _check_records(records: list[_Record], n_modules: int, positions: torch.Size) -> None:
    """Each scored module ran once, on per-position inputs, and no output was modified in place."""
    names = [r.prefix.rstrip(".") for r in records]
    if len(names) != n_modules or len(set(names)) != n_modules:
        raise _Unsupported(f"the scored modules are not each called once per forward (calls: {names})")
    for r in records:
        if r.output.shape[:2] != positions or r.output._version != r.version:
            raise _Unsupported(f"the output {tuple(r.output.shape)} of {r.prefix.rstrip('.')!r} is not per "
                               f"position of the batch {tuple(positions)}, or was modified in place")
