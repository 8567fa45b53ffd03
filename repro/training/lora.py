"""LoRA (Hu et al., 2021) through peft: the paper's non-selective baseline.

Low-rank adapters on the attention query and value projections (the original LoRA recipe;
rank 4 by default, as in the paper's Table 1), alpha 8 (peft's default), no adapter dropout.
The pretrained encoder weights stay frozen; the adapters and the task decoder train. A LoRA
run is a fixed-size variant: its "k" is the number of adapter parameters, reported as a
share of the encoder's parameters.
"""
from __future__ import annotations

import torch
from peft import LoraConfig, get_peft_model

from repro.training.masked_adamw import TrainedEntries
from repro.models import TaskModel
TARGET_MODULES = ("query", "value")
LORA_ALPHA = 8


def add_lora(model: TaskModel, rank: int, seed: int) -> int:
    """Wrap `model.encoder` with rank-`rank` adapters (initialised from `seed`); returns
    the number of adapter parameters. Every pretrained encoder weight is frozen."""
    if rank < 1:
        raise ValueError(f"LoRA rank {rank!r} must be >= 1")
    config = LoraConfig(r=rank, lora_alpha=LORA_ALPHA, target_modules=list(TARGET_MODULES), lora_dropout=0.0)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model.encoder = get_peft_model(model.encoder, config)
    return sum(p.numel() for p in model.encoder.parameters() if p.requires_grad)


def lora_entries(model: TaskModel) -> list[TrainedEntries]:
    """Optimizer entries of a LoRA model: every adapter parameter and the decoder."""
    adapters = [TrainedEntries(p) for p in model.encoder.parameters() if p.requires_grad]
    return adapters + [TrainedEntries(p) for p in model.decoder.parameters()]
