"""Empirical Fisher of the encoder (paper eq. 2): F = sum_i (grad_theta loss_i)^2, per sample.

The loss of one sample is -log p(y_i | x_i): the cross-entropy of its label (sequence tasks),
or the SUM of the token cross-entropies over its labelled tokens (token tasks; a sentence is
one sample). Only encoder parameters are scored (names as in `encoder_parameters`); the head
is used but not scored. The model is moved to `device` and runs in eval mode (no dropout);
its parameters are left unchanged and its train/eval mode is restored. Scores are float32
tensors on the CPU.

`empirical_fisher_loop` is the plain reference: one forward and backward per unpadded sample.
`empirical_fisher` batches it exactly: `torch.func.vmap(grad(...))` over a padded batch, with
- each sample's own padding mask passed as a 4D additive mask (transformers' mask builder
  branches on the data, which vmap cannot trace), and eager attention while scoring (vmap has
  no batching rule for the SDPA backward); masked keys get weight exactly 0, so padding does
  not change a sample's loss or gradient;
- the word-embedding matrix scored from the gradients of its looked-up rows (a zero shift
  added to the embedding output), squared per (sample, token) and scattered into F; a dense
  per-sample gradient of the vocabulary matrix would be mostly zeros and dominate the cost.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap
from tqdm import tqdm

from repro.data.encoding import IGNORE_INDEX, EncodedExample, collate
from repro.models import TaskModel

_INPUT_KEYS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class FisherResult:
    scores: dict[str, torch.Tensor]  # encoder parameter name -> sum over samples of the squared per-sample gradient
    samples: int  # N actually used
    seconds: float
    backward_passes: int  # backward (or vmapped) passes made, for the cost table


def sample_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-log p(labels | x) of one sample: summed cross-entropy, positions labelled -100 ignored."""
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


@contextlib.contextmanager
def _eager_attention(model: TaskModel) -> Iterator[None]:
    config = model.encoder.config
    previous = config._attn_implementation
    config._attn_implementation = "eager"
    try:
        yield
    finally:
        config._attn_implementation = previous


def _add_row_scores(table: torch.Tensor, ids: torch.Tensor, keep: torch.Tensor, row_grads: torch.Tensor) -> None:
    """table[v] += sum_i (sum_{t: ids[i,t] = v, keep[i,t]} row_grads[i,t])^2, for ids (B, L), row_grads (B, L, H)."""
    keys = (torch.arange(ids.shape[0], device=ids.device)[:, None] * table.shape[0] + ids)[keep]
    unique, inverse = torch.unique(keys, return_inverse=True)
    per_sample = torch.zeros(len(unique), table.shape[1], device=table.device).index_add_(0, inverse, row_grads[keep].float())
    table.index_add_(0, unique % table.shape[0], per_sample.square_())


def empirical_fisher(model: TaskModel, encoded: list[EncodedExample], *, pad_token_id: int, n_samples: int,
                     batch_size: int = 16, device: str = "cpu", progress: bool = True) -> FisherResult:
    """F over the first `n_samples` of `encoded`, `batch_size` per-sample gradients per vmapped pass.

    Equals `empirical_fisher_loop` up to float rounding. Samples are sorted by length before
    batching (less padding; F is a sum). The encoder's input embedding must be an nn.Embedding.
    Memory: a pass holds `batch_size` per-sample gradients of every encoder matrix except the
    word embeddings (float32: batch_size x 4 bytes x those parameters, e.g. 16 x 350 MB for
    roberta-base) plus activations; lower `batch_size` when it does not fit.
    """
    _check_n(encoded, n_samples)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    embedding = model.encoder.get_input_embeddings()
    if type(embedding) is not nn.Embedding:
        raise ValueError(f"empirical_fisher needs an nn.Embedding input embedding, got {type(embedding).__name__}")
    table_name = "encoder." + next(n for n, p in model.encoder.named_parameters() if p is embedding.weight)
    start = time.perf_counter()
    shift: dict[str, torch.Tensor] = {}
    with (_scoring(model, device) as params, _eager_attention(model),
          embedding.register_forward_hook(lambda module, args, output: output + shift["rows"])):
        scored = {name: p for name, p in params.items() if name.startswith("encoder.") and name != table_name}
        fixed = {name: p for name, p in params.items() if name not in scored}
        dtype = next(iter(scored.values())).dtype

        def loss_of(free: dict[str, torch.Tensor], rows: torch.Tensor, sample: dict[str, torch.Tensor]) -> torch.Tensor:
            shift["rows"] = rows  # d loss / d rows[t] = the sample's gradient of row input_ids[t]
            inputs = {k: sample[k][None] for k in _INPUT_KEYS if k in sample}
            mask = sample["attention_mask"].to(dtype)
            inputs["attention_mask"] = ((1.0 - mask) * torch.finfo(dtype).min)[None, None, None, :]
            return sample_loss(functional_call(model, ({**free, **fixed},), kwargs=inputs), sample["labels"])

        per_sample_grads = vmap(grad(loss_of, argnums=(0, 1)), in_dims=(None, 0, 0))
        sums = {name: torch.zeros_like(p, dtype=torch.float32) for name, p in params.items() if name.startswith("encoder.")}
        order = sorted(range(n_samples), key=lambda i: len(encoded[i].input_ids))
        passes = 0
        with tqdm(total=n_samples, desc="fisher", disable=not progress, leave=False, mininterval=10.0) as bar:
            for offset in range(0, n_samples, batch_size):
                chunk = [encoded[i] for i in order[offset:offset + batch_size]]
                batch = {k: v.to(device) for k, v in collate(chunk, pad_token_id).items()}
                rows = torch.zeros(*batch["input_ids"].shape, embedding.embedding_dim, device=device, dtype=dtype)
                grads, row_grads = per_sample_grads(scored, rows, batch)
                for name, g in grads.items():
                    sums[name] += g.float().square_().sum(0)
                keep = batch["attention_mask"].bool()
                if embedding.padding_idx is not None:  # nn.Embedding never updates its padding row
                    keep &= batch["input_ids"] != embedding.padding_idx
                _add_row_scores(sums[table_name], batch["input_ids"], keep, row_grads)
                passes += 1
                bar.update(len(chunk))
    return _result(sums, n_samples, start, passes)
