"""A fine-tuned model's weights, kept so that later steps can start from them: diff pruning
(section 3.1) reads the L1 run's changes, the generality probes (section 4) read every run's
tuned encoder.

Files are safetensors. Given theta_0, a tensor in which at most half the entries moved is
stored sparsely (int32 flat positions and the tuned values), so a subset run's file holds
about k entries while a full fine-tuning run's is as large as the encoder. Values are stored
exactly (float32 as trained), never as rounded deltas.

Diff pruning with L1 instead of L0 (Guo et al., 2021): step 1 is a full fine-tuning run with
an L1 penalty toward theta_0 (`repro.variants.diff_pruning.l1_run`); step 2 keeps the k entries that moved
most, |theta - theta_0| (`change_magnitudes`), and either evaluates with every other entry
reset (`apply_pruned`, "without re-training") or re-trains only those k entries from theta_0
(the `diff_pruning` selector).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from repro.models import TaskModel, encoder_parameters
from repro.files import atomic_target, read_or_set_aside

_ENCODER, _DECODER, _INDEX, _VALUE = "encoder/", "decoder/", "index/", "value/"
SPARSE_AT_MOST = 0.5  # a tensor with at most this share of moved entries is stored sparsely


@dataclass(frozen=True)
class TunedWeights:
    """A fine-tuned model's encoder parameters and decoder state (CPU tensors), by name."""

    encoder: dict[str, torch.Tensor]
    decoder: dict[str, torch.Tensor]

    @classmethod
    def of(cls, model: TaskModel) -> "TunedWeights":
        return cls({n: p.detach().cpu().clone() for n, p in encoder_parameters(model).items()},
                   {n: t.detach().cpu().clone() for n, t in model.decoder.state_dict().items()})

    def save(self, path: Path, initial: dict[str, torch.Tensor] | None = None) -> None:
        """Write to `path` atomically; with theta_0 (`initial`), mostly unchanged tensors sparsely."""
        tensors = {_DECODER + n: t.contiguous() for n, t in self.decoder.items()}
        for name, tuned in self.encoder.items():
            moved = None if initial is None else (tuned != initial[name].detach().cpu()).reshape(-1)
            if moved is not None and int(moved.sum()) <= SPARSE_AT_MOST * moved.numel():
                index = moved.nonzero().squeeze(1)
                tensors[_INDEX + name] = index.to(torch.int32)
                tensors[_VALUE + name] = tuned.reshape(-1)[index].contiguous()
            else:
                tensors[_ENCODER + name] = tuned.contiguous()
        with atomic_target(path) as tmp:
            save_file(tensors, str(tmp))

    @classmethod
    def load(cls, path: Path, initial: dict[str, torch.Tensor] | None = None) -> "TunedWeights":
        """Read a file of `save`; a sparsely stored file needs the same theta_0 (`initial`)."""
        tensors = load_file(str(path))
        encoder = {n.removeprefix(_ENCODER): t for n, t in tensors.items() if n.startswith(_ENCODER)}
        sparse = [n.removeprefix(_INDEX) for n in tensors if n.startswith(_INDEX)]
        if sparse and initial is None:
            raise ValueError(f"{path} stores {len(sparse)} tensors as changes to theta_0: pass `initial`")
        for name in sparse:
            values = initial[name].detach().cpu().clone().reshape(-1)
            values[tensors[_INDEX + name].long()] = tensors[_VALUE + name]
            encoder[name] = values.reshape(initial[name].shape)
        return cls(encoder, {n.removeprefix(_DECODER): t for n, t in tensors.items() if n.startswith(_DECODER)})

    @classmethod
    def read(cls, path: Path, initial: dict[str, torch.Tensor]) -> "TunedWeights | None":
        """`load` of a kept file; None when there is none, or when it cannot be read or does not
        fit `initial`: the file is then set aside (`repro.files.read_or_set_aside`), so that the
        caller runs again the run that made it."""
        return read_or_set_aside(path, lambda file: cls.load(file, initial=initial))

    def change_magnitudes(self, initial: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """|theta - theta_0| per encoder entry, theta_0 = `initial` (same names and shapes)."""
        if set(initial) != set(self.encoder):
            raise ValueError(f"tuned weights and model differ in parameters: {sorted(set(initial) ^ set(self.encoder))[:5]}")
        return {n: (self.encoder[n] - p.detach().cpu()).abs() for n, p in initial.items()}

    @torch.no_grad()
    def load_encoder_into(self, encoder: torch.nn.Module) -> None:
        """Set every parameter of `encoder` (a model's encoder) to its tuned value."""
        parameters = dict(encoder.named_parameters())
        if set(parameters) != set(self.encoder):
            raise ValueError(f"tuned weights and model differ in parameters: "
                             f"{sorted(set(parameters) ^ set(self.encoder))[:5]}")
        for name, param in parameters.items():
            param.copy_(self.encoder[name].to(param.device, param.dtype))

    @torch.no_grad()
    def apply_pruned(self, model: TaskModel, mask: dict[str, torch.Tensor]) -> None:
        """Set the masked encoder entries of `model` (at theta_0) to their tuned values, leave the
        rest at theta_0, and load the tuned decoder."""
        for name, param in encoder_parameters(model).items():
            tuned = self.encoder[name].to(param.device, param.dtype)
            param.copy_(torch.where(mask[name].to(param.device), tuned, param))
        model.decoder.load_state_dict(self.decoder)
