"""The shared optimisation loop: linear warm-up schedule, masked AdamW steps, divergence check
(`repro.training.divergence`)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import torch
from tqdm import tqdm

from repro.training.divergence import DivergenceRule
from repro.training.masked_adamw import MaskedAdamW


@dataclass(frozen=True)
class Schedule:
    """Epochs, batch size and a linear schedule with warm-up (Tables 2 and 4)."""

    epochs: int
    batch_size: int
    learning_rate: float
    warmup_fraction: float = 0.1
    max_grad_norm: float | None = 5.0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs ({self.epochs}) and batch_size ({self.batch_size}) must be >= 1")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"learning rate {self.learning_rate!r} must be a positive number")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction {self.warmup_fraction!r} must be in [0, 1)")


def linear_warmup_lr(step: int, total_steps: int, peak: float, warmup_fraction: float) -> float:
    """Learning rate before optimizer step `step` (0-based), as transformers'
    get_linear_schedule_with_warmup with ceil(warmup_fraction * total_steps) warm-up steps."""
    warmup = math.ceil(warmup_fraction * total_steps)
    if step < warmup:
        return peak * step / max(1, warmup)
    return peak * max(0.0, (total_steps - step) / max(1, total_steps - warmup))


TRACE_POINTS = 20  # a run's loss curve is kept as the mean loss of each twentieth of its steps


@dataclass(frozen=True)
class FitResult:
    """How a fit went. `step_losses`: the training loss of every step taken (in memory only);
    `loss_trace()`: the mean loss of each twentieth of them, small enough to store with a result.
    `diverged` with `reason` when the loss or gradient became non-finite or the divergence rule
    judged the losses; `divergence`: the rule's record (None when stopped by a non-finite value)."""

    steps: int
    final_loss: float
    diverged: bool
    seconds: float
    step_losses: tuple[float, ...] = ()
    reason: str | None = None
    divergence: dict | None = None

    def loss_trace(self, points: int = TRACE_POINTS) -> list[float]:
        losses = self.step_losses
        if not losses:
            return []
        bounds = [round(i * len(losses) / points) for i in range(points + 1)]
        return [sum(losses[a:b]) / (b - a) for a, b in zip(bounds, bounds[1:]) if b > a]


def fit(
    loss_of_batch: Callable[[object], torch.Tensor],
    batches_for_epoch: Callable[[int], Iterable],
    steps_per_epoch: int,
    optimizer: MaskedAdamW,
    schedule: Schedule,
    *,
    description: str = "train",
    progress: bool = True,
    divergence: DivergenceRule = DivergenceRule(),
) -> FitResult:
    """Minimise `loss_of_batch` over `schedule.epochs` epochs of `steps_per_epoch` batches each
    (batches are made lazily, epoch by epoch); stops at the first non-finite loss or gradient,
    and judges the finished run by `divergence`; either way the run is reported as diverged."""
    total = steps_per_epoch * schedule.epochs
    start, step, losses, last = time.perf_counter(), 0, [], float("nan")
    bar = tqdm(total=total, desc=description, disable=not progress, leave=False, mininterval=10.0)
    try:
        for epoch in range(schedule.epochs):
            for batch in batches_for_epoch(epoch):
                loss = loss_of_batch(batch)
                last = loss.detach().item()
                if not math.isfinite(last):
                    return FitResult(step, last, True, time.perf_counter() - start, tuple(losses),
                                     f"non-finite loss at step {step}")
                loss.backward()
                lr = linear_warmup_lr(step, total, schedule.learning_rate, schedule.warmup_fraction)
                grad_norm = optimizer.step(lr)
                optimizer.zero_grad()
                if not math.isfinite(grad_norm):
                    return FitResult(step, grad_norm, True, time.perf_counter() - start, tuple(losses),
                                     f"non-finite gradient at step {step}")
                step += 1
                losses.append(last)
                bar.update(1)
                bar.set_postfix(loss=f"{last:.4f}", refresh=False)
    finally:
        bar.close()
    verdict = divergence.judge(losses)
    return FitResult(step, last, verdict.diverged, time.perf_counter() - start, tuple(losses),
                     verdict.reason() if verdict.diverged else None, verdict.record())
