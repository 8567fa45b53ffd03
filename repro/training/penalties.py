"""Penalties toward the pretrained weights: regularised full fine-tuning (paper Table 11) and
the L1 fine-tuning run of diff pruning.

    l1: strength * sum |theta - theta_0|        gradient: strength * sign(theta - theta_0)
    l2: strength * sum (theta - theta_0)^2      gradient: 2 * strength * (theta - theta_0)

Sums, not means, over every trained encoder entry (a mean over 10^8 entries would make the
paper's coefficients 0.01-1.0 vanish). The gradient is added to the task gradient before
clipping, exactly as if the penalty were part of the loss (torch's |x| has gradient 0 at 0,
and so does sign).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from repro.training.masked_adamw import TrainedEntries

KINDS = ("l1", "l2")


@dataclass(frozen=True)
class Regularization:
    """A penalty kind ("l1" or "l2") and its coefficient (> 0)."""

    kind: str
    strength: float

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"regularization type {self.kind!r} is not one of {KINDS}")
        if not (isinstance(self.strength, (int, float)) and math.isfinite(self.strength) and self.strength > 0):
            raise ValueError(f"regularization strength {self.strength!r} must be a positive number")

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.strength:g}"


class Penalty:
    """A `Regularization` over trained entries, anchored at their values when the penalty is
    created (theta_0)."""

    def __init__(self, regularization: Regularization, entries: list[TrainedEntries]):
        self.regularization = regularization
        self.entries = list(entries)
        self.reference = [e.selected().clone() for e in self.entries]

    @torch.no_grad()
    def value(self) -> float:
        """The penalty at the entries' current values."""
        total = 0.0
        for entry, start in zip(self.entries, self.reference):
            delta = entry.selected() - start
            total += float(delta.abs().sum() if self.regularization.kind == "l1" else delta.square().sum())
        return self.regularization.strength * total

    @torch.no_grad()
    def add_gradients(self, grads: list[torch.Tensor]) -> None:
        """grads[i] += d penalty / d entries[i]'s values (1-D, in the entry's index order)."""
        strength = self.regularization.strength
        for entry, start, grad in zip(self.entries, self.reference, grads, strict=True):
            delta = entry.selected() - start
            grad.add_(delta.sign_().mul_(strength) if self.regularization.kind == "l1" else delta.mul_(2.0 * strength))
