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

import torch

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
    """A `Regularization` over `leaves` (tensors the optimizer updates), anchored at their
    values when the penalty is created (theta_0)."""

    def __init__(self, regularization: Regularization, leaves: list[torch.Tensor]):
        self.regularization = regularization
        self.leaves = list(leaves)
        self.reference = [leaf.detach().clone() for leaf in self.leaves]

    @torch.no_grad()
    def value(self) -> float:
        """The penalty at the leaves' current values."""
        total = 0.0
        for leaf, start in zip(self.leaves, self.reference):
            delta = leaf.detach() - start
            total += float(delta.abs().sum() if self.regularization.kind == "l1" else delta.square().sum())
        return self.regularization.strength * total

    @torch.no_grad()
    def add_gradients(self) -> None:
        """leaf.grad += d penalty / d leaf, for every leaf (a missing grad counts as zero)."""
        strength = self.regularization.strength
        for leaf, start in zip(self.leaves, self.reference):
            delta = leaf.detach() - start
            step = delta.sign_().mul_(strength) if self.regularization.kind == "l1" else delta.mul_(2.0 * strength)
            if leaf.grad is None:
                leaf.grad = step
            else:
                leaf.grad.add_(step)
