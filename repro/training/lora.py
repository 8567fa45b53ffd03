"""LoRA (Hu et al., 2021) through peft: the paper's non-selective baseline.

Low-rank adapters on the attention query and value projections (the original LoRA recipe;
rank 4 by default, as in the paper's Table 1), alpha 8 (peft's default), no adapter dropout.
The projections are found by architecture (`query_value_projections`). The pretrained
encoder weights stay frozen; the adapters and the task decoder train. A LoRA run is a
fixed-size variant: its "k" is the number of adapter parameters, reported as a share of the
encoder's parameters.
"""
from __future__ import annotations

import torch
from peft import LoraConfig, get_peft_model
from torch import nn

from repro.training.masked_adamw import TrainedEntries
from repro.models import TaskModel

# Child names of an attention block's query and value projections, per architecture family.
QUERY_VALUE_NAMES = {
    "BERT, RoBERTa, XLM-R, MiniLM": ("query", "value"),
    "DistilBERT": ("q_lin", "v_lin"),
}
LORA_ALPHA = 8


def query_value_projections(encoder: nn.Module) -> list[str]:
    """Full module names of every attention query and value projection (nn.Linear) in `encoder`,
    in module order. Raises ValueError naming the module types seen when there are none."""
    found = []
    for name, module in encoder.named_modules():
        children = dict(module.named_children())
        for query, value in QUERY_VALUE_NAMES.values():
            if isinstance(children.get(query), nn.Linear) and isinstance(children.get(value), nn.Linear):
                found += [f"{name}.{query}" if name else query, f"{name}.{value}" if name else value]
    if not found:
        seen = sorted({type(m).__name__ for m in encoder.modules()})
        raise ValueError(f"LoRA: no attention query/value projections in {type(encoder).__name__} (looked for "
                         f"nn.Linear children named {list(QUERY_VALUE_NAMES.values())}); module types seen: {seen}")
    return found


def add_lora(model: TaskModel, rank: int, seed: int) -> int:
    """Wrap `model.encoder` with rank-`rank` adapters on its query and value projections
    (initialised from `seed`); returns the number of adapter parameters. Every pretrained
    encoder weight is frozen."""
    if rank < 1:
        raise ValueError(f"LoRA rank {rank!r} must be >= 1")
    config = LoraConfig(r=rank, lora_alpha=LORA_ALPHA, target_modules=query_value_projections(model.encoder),
                        lora_dropout=0.0)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model.encoder = get_peft_model(model.encoder, config)
    return sum(p.numel() for p in model.encoder.parameters() if p.requires_grad)


def lora_entries(model: TaskModel) -> list[TrainedEntries]:
    """Optimizer entries of a LoRA model: every adapter parameter and the decoder."""
    adapters = [TrainedEntries(p) for p in model.encoder.parameters() if p.requires_grad]
    return adapters + [TrainedEntries(p) for p in model.decoder.parameters()]


def merge_lora(model: TaskModel) -> None:
    """Fold the adapters into the encoder's weights (`model.encoder` becomes a plain encoder again)."""
    model.encoder = model.encoder.merge_and_unload()
