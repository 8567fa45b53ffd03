"""Gradient statistics that score-based selectors ask for, computed lazily and cached.

The downstream empirical Fisher (paper eq. 2) is computed on the run's training split with
the decoder-first model, before any fine-tuning, so every variant and learning rate of one
(model, task, seed, data, N) shares it: it is cached in safetensors under
`<cache_dir>/fisher/`. `cost` says what the run's own selection paid.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from repro.fisher import empirical_fisher
from repro.models import TaskModel
from repro.storage import atomic_target


@dataclass
class GradientStats:
    """Scores for `model` on `encoded_train`; `cache_file` None disables the disk cache."""

    model: TaskModel
    encoded_train: list
    pad_token_id: int
    n_samples: int
    cache_file: Path | None
    device: str = "cpu"
    progress: bool = True
    cost: dict = field(default_factory=dict)
    _downstream: dict[str, torch.Tensor] | None = None

    def downstream(self) -> dict[str, torch.Tensor]:
        """Sum over min(N, train size) training samples of squared per-sample gradients."""
        if self._downstream is None:
            started = time.perf_counter()
            n = min(self.n_samples, len(self.encoded_train))
            if self.cache_file is not None and self.cache_file.exists():
                self._downstream = load_file(str(self.cache_file))
                self.cost.update(stat_cached=True, stat_samples=n, stat_backward_passes=0)
            else:
                result = empirical_fisher(self.model, self.encoded_train, pad_token_id=self.pad_token_id,
                                          n_samples=n, device=self.device, progress=self.progress)
                self._downstream = result.scores
                self.cost.update(stat_cached=False, stat_samples=result.samples,
                                 stat_backward_passes=result.backward_passes)
                if self.cache_file is not None:
                    with atomic_target(self.cache_file) as tmp:
                        save_file({k: v.contiguous() for k, v in result.scores.items()}, str(tmp))
            self.cost["stat_seconds"] = time.perf_counter() - started
        return self._downstream
