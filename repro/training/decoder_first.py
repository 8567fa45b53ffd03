"""Decoder-first tuning (paper section 3.2, Table 4): train the decoder on the frozen encoder.

The encoder is frozen, so its outputs are computed once (dropout off) and the decoder is
trained on those features. The trained decoder is cached on disk (safetensors) under a key of
everything it depends on, so every variant of one (model, task, seed, data) shares it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from repro.data.encoding import IGNORE_INDEX, collate, iterate_batches
from repro.training.masked_adamw import MaskedAdamW, TrainedEntries
from repro.models import TaskModel
from repro.training.loop import FitResult, Schedule, fit
from repro.files import atomic_target, read_or_set_aside


@dataclass(frozen=True)
class DecoderConfig:
    """Table 4: 5 epochs, lr 4e-4, batch 64, grad-norm clip 5.0, linear with 10% warm-up."""

    epochs: int = 5
    learning_rate: float = 4e-4
    batch_size: int = 64
    warmup_fraction: float = 0.1
    max_grad_norm: float = 5.0

    def schedule(self) -> Schedule:
        return Schedule(self.epochs, self.batch_size, self.learning_rate, self.warmup_fraction, self.max_grad_norm)


@torch.no_grad()
def decoder_inputs(model: TaskModel, encoded: list, *, pad_token_id: int, device: str = "cpu",
                batch_size: int = 64) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per example, the frozen features the decoder sees and their labels (labelled positions only:
    every position a token task labels, e.g. the masked positions of an MLM example)."""
    model.to(device).eval()
    features: list = [None] * len(encoded)
    labels: list = [None] * len(encoded)
    for indices in iterate_batches(encoded, batch_size, shuffle=False, sort_by_length=True):
        batch = collate([encoded[i] for i in indices], pad_token_id)
        batch_labels = batch.pop("labels")
        states = model.features(**{k: v.to(device) for k, v in batch.items()}).cpu()
        for row, i in enumerate(indices):
            if model.kind == "sequence":
                features[i], labels[i] = states[row : row + 1], batch_labels[row : row + 1]
            else:
                keep = batch_labels[row] != IGNORE_INDEX
                features[i], labels[i] = states[row][keep], batch_labels[row][keep]
    return features, labels


def feature_batches(features: list[torch.Tensor], labels: list[torch.Tensor], batch_size: int, seed: int,
                    epoch: int):
    """One epoch of (features, labels) batches of `batch_size` examples, in an order fixed by
    (seed, epoch); each example's rows stay together (a sentence is one example)."""
    order = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed * 1000 + epoch)).tolist()
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        yield torch.cat([features[i] for i in chosen]), torch.cat([labels[i] for i in chosen])


def train_decoder(model: TaskModel, encoded_train: list, config: DecoderConfig, *, seed: int,
                  pad_token_id: int, device: str = "cpu", progress: bool = True) -> FitResult:
    """Train `model.decoder` in place on frozen encoder features; the encoder is untouched."""
    features, labels = decoder_inputs(model, encoded_train, pad_token_id=pad_token_id, device=device)
    schedule = config.schedule()
    model.decoder.to(device).train()
    optimizer = MaskedAdamW([TrainedEntries(p) for p in model.decoder.parameters()], max_grad_norm=config.max_grad_norm)

    def batches_for_epoch(epoch: int):
        return feature_batches(features, labels, config.batch_size, seed, epoch)

    def loss_of_batch(batch):
        x, y = batch
        return F.cross_entropy(model.decoder(x.to(device)), y.to(device))

    steps = math.ceil(len(features) / config.batch_size)
    return fit(loss_of_batch, batches_for_epoch, steps, optimizer, schedule, description="decoder", progress=progress)


def _decoder_state(path: Path, model: TaskModel) -> dict[str, torch.Tensor]:
    """A cached decoder's tensors; ValueError unless they are exactly the decoder's (names and
    shapes), so that a bad file never half-loads into it."""
    tensors = load_file(str(path))
    expected = {name: tuple(t.shape) for name, t in model.decoder.state_dict().items()}
    if {name: tuple(t.shape) for name, t in tensors.items()} != expected:
        raise ValueError(f"holds tensors {sorted(tensors)} that are not the decoder's {expected}")
    return tensors


def decoder_first(model: TaskModel, encoded_train: list, config: DecoderConfig, *, seed: int,
                  pad_token_id: int, cache_file: Path | None, device: str = "cpu",
                  progress: bool = True) -> dict:
    """Give `model` its initial decoder: from `cache_file` if present, else train and cache it.

    Returns {"cached": bool, "seconds": float, "final_loss": float | None}. A cache file that
    cannot be read or does not fit the decoder is set aside (`repro.files.read_or_set_aside`)
    and the decoder trained again.
    """
    cached = None if cache_file is None else read_or_set_aside(cache_file, lambda path: _decoder_state(path, model))
    if cached is not None:
        model.decoder.load_state_dict(cached)
        return {"cached": True, "seconds": 0.0, "final_loss": None}
    result = train_decoder(model, encoded_train, config, seed=seed, pad_token_id=pad_token_id,
                           device=device, progress=progress)
    if result.diverged:
        raise RuntimeError(f"decoder-first training diverged (loss {result.final_loss})")
    if cache_file is not None:
        with atomic_target(cache_file) as tmp:
            save_file({k: v.detach().cpu().contiguous() for k, v in model.decoder.state_dict().items()}, str(tmp))
    return {"cached": False, "seconds": result.seconds, "final_loss": result.final_loss}
