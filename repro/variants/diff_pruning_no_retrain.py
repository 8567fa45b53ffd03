"""Diff pruning without re-training: the L1 run (`repro.variants.diff_pruning`) pruned to its k
largest changes, every other encoder entry reset to theta_0, evaluated with the L1 run's
decoder. Nothing trains after pruning: the run's `learning_rate` is the L1 run's, and it takes
no penalty of its own.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from repro.selection.selectors import select_diff_pruning
from repro.variants.diff_pruning import L1Run
from repro.variants.subset import SubsetVariant

if TYPE_CHECKING:
    from repro.selection.selectors import Mask
    from repro.selection.statistics import GradientStats
    from repro.variants.context import RunContext


def keep_pruned(run: RunContext, mask: Mask, stats: GradientStats) -> None:
    """Set the masked entries to the L1 run's values (the rest stay at theta_0) and load its decoder."""
    stats.pruning_source().apply_pruned(run.model, mask)


DIFF_PRUNING_NO_RETRAIN = SubsetVariant("diff_pruning_no_retrain", select_diff_pruning,
                                        "largest |theta - theta_0| after L1-penalised full fine-tuning, kept as is",
                                        statistics=L1Run(retrained=False), after_selection=keep_pruned,
                                        takes_penalty=False)
