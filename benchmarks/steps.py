"""Training-step variants timed against the forward+backward floor, on copies of one model.

Each variant owns its model copy and optimizer; `run(batch)` makes one step on a batch and
returns the seconds of its phases (forward, backward, optimizer). `state_bytes` is the memory
its optimizer keeps between steps (moments, indices, masks).
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import torch

from benchmarks.timing import Laps
from repro.training.lora import add_lora, lora_entries
from repro.training.masked_adamw import MaskedAdamW
from repro.models import TaskModel, encoder_parameters
from repro.selection.selectors import Mask, bitfit_k, select_bitfit, select_random, subset_k
from repro.training.sparse_grad import selected_weight_grads
from repro.training.trainer import task_loss, trained_entries

LEARNING_RATE = 1e-4
MAX_GRAD_NORM = 5.0
Batch = dict[str, torch.Tensor]


@dataclass
class StepVariant:
    name: str
    kind: str  # "floor", "masked", "masked, dense grads", "full", "dense-mask" or "lora"
    fraction: float | None  # subset size as a share of the encoder (masked and dense-mask)
    model: TaskModel
    optimizer_step: Callable[[], None]  # after backward: update and clear the gradients
    state_bytes: int
    trained: int  # entries the optimizer updates (the decoder included)

    def run(self, batch: Batch, sync: Callable[[], None]) -> dict[str, float]:
        """One step on `batch`; seconds per phase (`sync` waits for the device before each clock read)."""
        laps = Laps(sync)
        loss = task_loss(self.model, batch)
        laps.mark("forward")
        loss.backward()
        laps.mark("backward")
        self.optimizer_step()
        laps.mark("optimizer")
        return laps.phases


def dense_adamw_bytes(model: TaskModel) -> int:
    """torch.optim.AdamW's state over every parameter: two float32 moments each."""
    return 2 * 4 * sum(p.numel() for p in model.parameters())


def _clear(model: TaskModel) -> None:
    for p in model.parameters():
        p.grad = None


def floor(model: TaskModel) -> StepVariant:
    """loss.backward() of the full model, gradients dropped: no optimizer."""
    return StepVariant("forward+backward floor", "floor", None, model, lambda: _clear(model), 0, 0)


def masked(model: TaskModel, mask: Mask, name: str, stack: ExitStack, fraction: float | None = None, *,
           sparse_grads: bool = True) -> StepVariant:
    """repro's masked trainer step as `repro.training.trainer.train_entries` makes it: `trained_entries`,
    `MaskedAdamW`, and (`sparse_grads`) `repro.training.sparse_grad.selected_weight_grads`, entered on
    `stack` (the caller closes it). `fraction`: the nominal subset size (default: the mask's share)."""
    entries = trained_entries(model, mask)
    optimizer = MaskedAdamW(entries, max_grad_norm=MAX_GRAD_NORM)
    stack.enter_context(selected_weight_grads(model, entries if sparse_grads else []))
    if fraction is None:
        fraction = sum(int(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values())
    return _masked_adamw(name, "masked" if sparse_grads else "masked, dense grads", fraction, model, optimizer)


def _masked_adamw(name: str, kind: str, fraction: float | None, model: TaskModel, optimizer: MaskedAdamW) -> StepVariant:
    def step():
        optimizer.step(LEARNING_RATE)
        optimizer.zero_grad()

    return StepVariant(name, kind, fraction, model, step, optimizer.state_bytes, sum(e.size for e in optimizer.entries))


def lora(model: TaskModel, rank: int) -> StepVariant:
    """peft LoRA adapters (repro.training.lora) trained with MaskedAdamW."""
    add_lora(model, rank, seed=0)
    model.to(next(model.decoder.parameters()).device)
    optimizer = MaskedAdamW(lora_entries(model), max_grad_norm=MAX_GRAD_NORM)
    return _masked_adamw(f"LoRA rank {rank}", "lora", None, model, optimizer)


def full(model: TaskModel) -> StepVariant:
    """Full fine-tuning: dense torch.optim.AdamW over every parameter, with grad-norm clipping."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.0, foreach=True)

    def step():
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM, foreach=True)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return StepVariant("full fine-tuning (dense AdamW)", "full", 1.0, model, step, dense_adamw_bytes(model),
                       sum(p.numel() for p in model.parameters()))


def dense_mask(model: TaskModel, mask: Mask, name: str) -> StepVariant:
    """The common FISH-mask / composable-sft way: every gradient dense, multiplied by a 0/1 mask
    (bool, 1 byte per entry), then clipping and dense torch.optim.AdamW over all parameters."""
    encoder = encoder_parameters(model)
    masks = [(encoder[n], m.to(encoder[n].device)) for n, m in mask.items()]
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.0, foreach=True)

    def step():
        for p, m in masks:
            p.grad.mul_(m)
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM, foreach=True)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    mask_bytes = sum(m.numel() * m.element_size() for _, m in masks)
    selected = sum(int(m.sum()) for _, m in masks)
    trained = selected + sum(p.numel() for p in model.decoder.parameters())
    return StepVariant(name, "dense-mask", selected / sum(m.numel() for _, m in masks), model, step,
                       dense_adamw_bytes(model) + mask_bytes, trained)


@dataclass(frozen=True)
class StepPlan:
    fractions: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1)  # random subset sizes of the masked trainer
    plain_fraction: float = 1e-3  # also timed with dense weight gradients (sparse_grads=False)
    dense_mask_fraction: float = 1e-3
    lora_rank: int = 4


def build_variants(base: TaskModel, plan: StepPlan, device: str, stack: ExitStack) -> list[StepVariant]:
    """Every variant on its own copy of `base` (train mode, on `device`), the floor first; the
    masked trainer's gradient hooks stay entered on `stack` (the caller closes it)."""
    def copy_of() -> TaskModel:
        return copy.deepcopy(base).to(device).train()

    params = encoder_parameters(base)
    variants = [floor(copy_of())]
    for fraction in plan.fractions:
        k = subset_k(params, fraction)
        variants.append(masked(copy_of(), select_random(params, k, seed=0), f"masked step, random {fraction:g} (k={k:,})",
                               stack, fraction))
    k = subset_k(params, plan.plain_fraction)
    variants.append(masked(copy_of(), select_random(params, k, seed=0), stack=stack, fraction=plan.plain_fraction,
                           name=f"masked step without sparse_grad, random {plan.plain_fraction:g} (k={k:,})",
                           sparse_grads=False))
    k = bitfit_k(params)
    variants.append(masked(copy_of(), select_bitfit(params, k, seed=0), f"masked step, BitFit (k={k:,})", stack))
    variants.append(full(copy_of()))
    k = subset_k(params, plan.dense_mask_fraction)
    variants.append(dense_mask(copy_of(), select_random(params, k, seed=0),
                               f"dense-mask baseline, random {plan.dense_mask_fraction:g} (k={k:,})"))
    variants.append(lora(copy_of(), plan.lora_rank))
    return variants
