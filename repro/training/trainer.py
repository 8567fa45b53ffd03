"""The masked trainer: fine-tune the selected encoder entries and the task decoder."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from repro.data.encoding import IGNORE_INDEX, collate, iterate_batches
from repro.training.masked_adamw import MaskedAdamW, TrainedEntries
from repro.models import TaskModel
from repro.training.loop import FitResult, Schedule, fit
from repro.training.penalties import Penalty, Regularization
from repro.selection.selectors import Mask
from repro.training.sparse_grad import selected_weight_grads


def trained_entries(model: TaskModel, mask: Mask) -> list[TrainedEntries]:
    """Optimizer entries for `mask` over the encoder, plus every decoder parameter.

    Encoder tensors without a selected entry get `requires_grad=False`, so autograd skips
    their weight gradients; fully selected tensors are trained without an index.
    """
    entries = []
    for name, param in model.encoder.named_parameters():
        selected = mask[name]
        if bool(selected.all()):
            entries.append(TrainedEntries(param))
        elif bool(selected.any()):
            index = selected.reshape(-1).nonzero().squeeze(1).to(param.device)
            entries.append(TrainedEntries(param, index))
        else:
            param.requires_grad_(False)
    entries.extend(TrainedEntries(p) for p in model.decoder.parameters())
    return entries


def task_loss(model: TaskModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Cross-entropy of the task decoder; token tasks ignore positions labelled -100."""
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logits = model(**inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1), ignore_index=IGNORE_INDEX)


@dataclass(frozen=True)
class MaskedTrainingResult:
    fit: FitResult
    trained_entries: int
    optimizer_state_bytes: int


def train_masked(model: TaskModel, mask: Mask, encoded_train: list, schedule: Schedule, *, seed: int,
                 pad_token_id: int, device: str = "cpu", progress: bool = True,
                 regularization: Regularization | None = None, sparse_grads: bool = True) -> MaskedTrainingResult:
    """Train `model` in place: only masked encoder entries and the decoder change.

    Batches are shuffled by `seed` and grouped by length (less padding). `regularization`
    penalises the trained encoder entries' distance to their values before training (theta_0);
    the decoder is not penalised."""
    model.to(device)
    entries = trained_entries(model, mask)
    penalty = None
    if regularization is not None:
        decoder = {id(p) for p in model.decoder.parameters()}
        penalty = Penalty(regularization, [e for e in entries if id(e.param) not in decoder])
    return train_entries(model, entries, encoded_train, schedule, seed=seed, pad_token_id=pad_token_id,
                         device=device, progress=progress, penalty=penalty, sparse_grads=sparse_grads)


def train_entries(model: TaskModel, entries: list[TrainedEntries], encoded_train: list, schedule: Schedule, *,
                  seed: int, pad_token_id: int, device: str = "cpu", progress: bool = True,
                  penalty: Penalty | None = None, sparse_grads: bool = True) -> MaskedTrainingResult:
    """Train exactly `entries` of `model` (on `device`) in place; see `train_masked`. Dropout
    draws from the global RNG, seeded here by `seed`: a run does not depend on what ran before.
    `sparse_grads`: compute weight gradients of the selected entries only where that is faster
    (repro.training.sparse_grad; the same updates as the plain path)."""
    model.to(device).train()
    torch.manual_seed(seed)
    optimizer = MaskedAdamW(entries, max_grad_norm=schedule.max_grad_norm, penalty=penalty)

    def batches_for_epoch(epoch: int):
        for indices in iterate_batches(encoded_train, schedule.batch_size, shuffle=True, sort_by_length=True,
                                       seed=seed * 1000 + epoch):
            yield collate([encoded_train[i] for i in indices], pad_token_id)

    def loss_of_batch(batch):
        return task_loss(model, {k: v.to(device) for k, v in batch.items()})

    steps_per_epoch = math.ceil(len(encoded_train) / schedule.batch_size)
    with selected_weight_grads(model, entries if sparse_grads else []):
        result = fit(loss_of_batch, batches_for_epoch, steps_per_epoch, optimizer, schedule, description="fine-tune",
                     progress=progress)
    model.eval()
    return MaskedTrainingResult(result, sum(e.size for e in entries), optimizer.state_bytes)
