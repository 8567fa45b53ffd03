"""What a variant is given to select and train with: one run's config, model, data and workspace.

Built by `repro.runs.run` after decoder-first tuning, so `model`'s encoder is at theta_0 (the
pretrained encoder, or the tuned one of `config.init_from`) and its decoder is the initial one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from repro.selection.statistics import GradientStats, PretrainingSource
from repro.training.trainer import MaskedTrainingResult, train_entries, train_masked

if TYPE_CHECKING:
    from repro.models import TaskModel
    from repro.runs.config import RunConfig
    from repro.runs.run import PreparedData, Workspace
    from repro.selection.selectors import Mask
    from repro.training.masked_adamw import TrainedEntries
    from repro.training.penalties import Regularization
    from repro.training.tuned_weights import TunedWeights


@dataclass(frozen=True)
class RunContext:
    """One run as its variant sees it. `tuned_weights(config)`: another run's tuned weights, from
    the results folder or by running it (`repro.runs.run.load_or_train_tuned_weights`)."""

    config: RunConfig
    model: TaskModel
    data: PreparedData
    workspace: Workspace
    tuned_weights: Callable[[RunConfig], TunedWeights]

    def gradient_stats(self, pruning_source: Callable[[], TunedWeights] | None = None) -> GradientStats:
        """The run's gradient statistics (computed when a selector first reads them, cached on disk)."""
        config, workspace = self.config, self.workspace
        return GradientStats(self.model, self.data.train, self.data.pad_token_id, config.fisher_samples,
                             workspace.store.cache_dir, self.data.cache_key(config),
                             PretrainingSource(config.model, workspace.data_dir, config.pretrain_fisher_samples),
                             pruning_source, workspace.device, workspace.progress)

    def train_mask(self, mask: Mask, regularization: Regularization | None = None) -> MaskedTrainingResult:
        """Train the masked encoder entries and the decoder on the run's training split."""
        return train_masked(self.model, mask, self.data.train, self.config.schedule(), seed=self.config.seed,
                            pad_token_id=self.data.pad_token_id, device=self.workspace.device,
                            progress=self.workspace.progress, regularization=regularization)

    def train_entries(self, entries: list[TrainedEntries]) -> MaskedTrainingResult:
        """Train exactly `entries` (e.g. adapters and the decoder) on the run's training split."""
        return train_entries(self.model, entries, self.data.train, self.config.schedule(), seed=self.config.seed,
                             pad_token_id=self.data.pad_token_id, device=self.workspace.device,
                             progress=self.workspace.progress)
