"""Diff pruning with re-training (Guo et al., 2021, with L1 instead of L0; paper section 3.1).

Step 1, the "L1 run" (`l1_run`): full fine-tuning with an L1 penalty of `pruning_l1` toward
theta_0, stored like any run and shared by both pruning variants. Step 2 keeps the k entries
that moved most, |theta - theta_0|; "diff_pruning" then re-trains those k entries from
theta_0 like any subset (its `learning_rate`; the L1 run's is `pruning_learning_rate`), and
`repro.variants.diff_pruning_no_retrain` evaluates the L1 run pruned to them.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from repro.selection.selectors import select_diff_pruning
from repro.training.penalties import Regularization
from repro.variants.subset import FULL, SubsetVariant

if TYPE_CHECKING:
    from repro.runs.config import RunConfig
    from repro.runs.study import Study
    from repro.selection.statistics import GradientStats
    from repro.training.tuned_weights import TunedWeights
    from repro.variants.context import RunContext


def l1_run(config: RunConfig) -> RunConfig:
    """Diff pruning's step 1 for a config of either pruning variant: full fine-tuning with the L1
    penalty `pruning_l1`, at `pruning_learning_rate` (with re-training) or the config's own
    learning rate (without), and otherwise the config's settings."""
    rate = config.learning_rate if config.pruning_learning_rate is None else config.pruning_learning_rate
    return replace(config, selector=FULL.name, subset_size=None, learning_rate=rate, regularization="l1",
                   regularization_strength=config.pruning_l1, pruning_l1=None, pruning_learning_rate=None)


@dataclass(frozen=True)
class L1Run:
    """The statistics of diff pruning's selector: |theta - theta_0| after the L1 run.

    retrained: True when the pruned entries are re-trained, so that the L1 run has a learning
    rate of its own (`pruning_learning_rate`); False when the L1 run is the run itself."""

    retrained: bool
    owned_fields: tuple[str, ...] = ("pruning_l1", "pruning_learning_rate")

    def of(self, run: RunContext, cost: dict) -> GradientStats:
        return run.gradient_stats(functools.cache(lambda: _l1_weights(run, l1_run(run.config), cost)))

    def check(self, config: RunConfig) -> None:
        try:
            Regularization("l1", config.pruning_l1)
        except ValueError:
            raise ValueError(f"pruning_l1 {config.pruning_l1!r}: diff pruning's L1 coefficient must be a positive "
                             f"number") from None
        rate = config.pruning_learning_rate
        if self.retrained != (rate is not None):
            raise ValueError(f"pruning_learning_rate {rate!r}: diff pruning with re-training needs the L1 run's "
                             f"learning rate, without re-training it takes it from learning_rate")
        if self.retrained and not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"pruning_learning_rate {rate!r} must be a positive number")

    def study_fields(self, study: Study) -> dict:
        if self.retrained:
            return {"pruning_l1": study.pruning_l1, "pruning_learning_rate": study.pruning_learning_rate}
        return {"pruning_l1": study.pruning_l1}


def _l1_weights(run: RunContext, config: RunConfig, cost: dict) -> TunedWeights:
    """The L1 run's tuned weights (run when missing); records in `cost` whether they were cached
    and what the L1 run's training cost."""
    store = run.workspace.store
    cached = store.weights_path(config).exists()
    try:
        weights = run.tuned_weights(config)
    except RuntimeError as error:
        raise RuntimeError(f"diff pruning's L1 run: {error}") from None
    stored = store.load(config)
    cost.update(stat_pruning_run=config.run_id(), stat_pruning_cached=cached,
                stat_pruning_seconds=stored.timings["train_s"], stat_pruning_steps=stored.timings["steps"])
    return weights


DIFF_PRUNING = SubsetVariant("diff_pruning", select_diff_pruning,
                             "largest |theta - theta_0| after L1-penalised full fine-tuning, then re-trained",
                             statistics=L1Run(retrained=True))
