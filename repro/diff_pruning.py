"""Diff pruning with L1 instead of L0 (Guo et al., 2021; paper section 3.1).

Step 1 is a full fine-tuning run with an L1 penalty toward theta_0 (the run `full+l1:<coef>`,
`RunConfig.pruning_run`); its tuned weights are kept. Step 2 keeps the k entries that moved
most, |theta - theta_0| (ties as in `repro.topk`), and either
- without re-training: evaluates the L1 run's model with every other entry reset to theta_0
  (the head stays the L1 run's), or
- with re-training: resets everything to theta_0 and trains only those k entries (the
  `diff_pruning` selector) from the decoder-first head, like every other selector.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from repro.models import TaskModel, encoder_parameters
from repro.storage import atomic_target

_ENCODER, _HEAD = "encoder/", "head/"


@dataclass(frozen=True)
class TunedWeights:
    """A fine-tuned model's encoder parameters and head state (CPU tensors), by name."""

    encoder: dict[str, torch.Tensor]
    head: dict[str, torch.Tensor]

    @classmethod
    def of(cls, model: TaskModel) -> "TunedWeights":
        return cls({n: p.detach().cpu().clone() for n, p in encoder_parameters(model).items()},
                   {n: t.detach().cpu().clone() for n, t in model.head.state_dict().items()})

    def save(self, path: Path) -> None:
        tensors = {**{_ENCODER + n: t.contiguous() for n, t in self.encoder.items()},
                   **{_HEAD + n: t.contiguous() for n, t in self.head.items()}}
        with atomic_target(path) as tmp:
            save_file(tensors, str(tmp))

    @classmethod
    def load(cls, path: Path) -> "TunedWeights":
        tensors = load_file(str(path))
        return cls({n.removeprefix(_ENCODER): t for n, t in tensors.items() if n.startswith(_ENCODER)},
                   {n.removeprefix(_HEAD): t for n, t in tensors.items() if n.startswith(_HEAD)})

    def change_magnitudes(self, initial: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """|theta - theta_0| per encoder entry, theta_0 = `initial` (same names and shapes)."""
        if set(initial) != set(self.encoder):
            raise ValueError(f"tuned weights and model differ in parameters: {sorted(set(initial) ^ set(self.encoder))[:5]}")
        return {n: (self.encoder[n] - p.detach().cpu()).abs() for n, p in initial.items()}

    @torch.no_grad()
    def apply_pruned(self, model: TaskModel, mask: dict[str, torch.Tensor]) -> None:
        """Set the masked encoder entries of `model` (at theta_0) to their tuned values, leave the
        rest at theta_0, and load the tuned head."""
        for name, param in encoder_parameters(model).items():
            tuned = self.encoder[name].to(param.device, param.dtype)
            param.copy_(torch.where(mask[name].to(param.device), tuned, param))
        model.head.load_state_dict(self.head)
