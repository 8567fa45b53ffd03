"""Methods that choose a subset of encoder entries with a selector and train it with the decoder:
random, BitFit, full fine-tuning and the three squared-gradient selectors (paper sections 2-3).

A `SubsetVariant` composes a selector of `repro.selection.selectors` (the mask), its size rule
(a fraction of the encoder, or the selector's own k), where its scores come from
(`statistics`), and what follows the selection (`after_selection`: train the mask, by default).
Diff pruning (`repro.variants.diff_pruning`, `repro.variants.diff_pruning_no_retrain`) is a
`SubsetVariant` too, with its L1 run as statistics.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

from repro.models import encoder_parameters
from repro.selection.selectors import (Mask, Params, bitfit_fraction, bitfit_k, count_parameters, mask_size,
                                       select_bitfit, select_combined, select_full, select_largest_downstream_sqgrad,
                                       select_largest_pretrain_sqgrad, select_random, subset_k)
from repro.variants.penalty import regularization_of

if TYPE_CHECKING:
    from repro.models import TaskModel
    from repro.runs.config import RunConfig
    from repro.runs.study import Study
    from repro.selection.statistics import GradientStats
    from repro.training.trainer import MaskedTrainingResult
    from repro.variants.context import RunContext


class Statistics(Protocol):
    """Where a selector's scores come from, and the RunConfig settings that takes."""

    owned_fields: tuple[str, ...]

    def of(self, run: RunContext, cost: dict) -> GradientStats:
        """The run's statistics; what they cost beyond `GradientStats.cost` goes into `cost`."""

    def check(self, config: RunConfig) -> None: ...

    def study_fields(self, study: Study) -> dict: ...


@dataclass(frozen=True)
class FisherStatistics:
    """The downstream and pretraining empirical Fisher (`repro.selection.statistics`), computed
    only when a selector reads them; no settings beyond their N (fisher_samples,
    pretrain_fisher_samples)."""

    owned_fields: tuple[str, ...] = ()

    def of(self, run: RunContext, cost: dict) -> GradientStats:
        return run.gradient_stats()

    def check(self, config: RunConfig) -> None:
        pass

    def study_fields(self, study: Study) -> dict:
        return {}


def train_selected(run: RunContext, mask: Mask, stats: GradientStats) -> MaskedTrainingResult:
    """Train the mask's entries and the decoder, with the run's penalty toward theta_0 if any."""
    return run.train_mask(mask, regularization_of(run.config))


@dataclass(frozen=True)
class SubsetVariant:
    """A method that trains (or keeps) exactly k encoder entries chosen by `select`.

    natural_k: the selector's own k for fixed-size selectors (BitFit, full), else None (k from
    the subset size; None: BitFit's fraction). after_selection(run, mask, stats): the
    training that follows, None when nothing trains. efficient: False for full fine-tuning."""

    name: str
    select: Callable[..., Mask]
    description: str
    natural_k: Callable[[Params], int] | None = None
    statistics: Statistics = FisherStatistics()
    after_selection: Callable[[RunContext, Mask, GradientStats], MaskedTrainingResult | None] = train_selected
    takes_penalty: bool = True
    has_mask: bool = True
    efficient: bool = True
    examples: tuple[str, ...] = ()

    @property
    def fixed_size(self) -> bool:
        return self.natural_k is not None

    @property
    def owned_fields(self) -> tuple[str, ...]:
        return self.statistics.owned_fields

    def fields(self, argument: str | None) -> dict:
        if argument is not None:
            raise ValueError(f"{self.name!r} takes no ':<argument>', got {argument!r}")
        return {"selector": self.name}

    def label(self, config: RunConfig) -> str:
        return self.name

    def check(self, config: RunConfig) -> None:
        self.statistics.check(config)

    def study_fields(self, study: Study) -> dict:
        return self.statistics.study_fields(study)

    def k(self, params: Params, subset_size: float | None) -> int:
        """k for a subset size; None means BitFit's fraction (the study's default)."""
        if self.natural_k is not None:
            return self.natural_k(params)
        return subset_k(params, bitfit_fraction(params) if subset_size is None else subset_size)

    def selection(self, run: RunContext) -> tuple[Mask, GradientStats, dict]:
        """The mask at the run's subset size, the statistics it read, and the selection record."""
        params = encoder_parameters(run.model)
        k, total = self.k(params, run.config.subset_size), count_parameters(params)
        cost: dict = {}
        stats = self.statistics.of(run, cost)
        started = time.perf_counter()
        mask = self.select(params, k, run.config.seed, stats)
        record = {"k": k, "fraction": k / total, "encoder_parameters": total,
                  "seconds": time.perf_counter() - started, **stats.cost, **cost}
        if mask_size(mask) != k:
            raise AssertionError(f"selector {self.name!r} returned {mask_size(mask)} entries, expected {k}")
        return mask, stats, record

    def train(self, run: RunContext) -> tuple[MaskedTrainingResult | None, dict]:
        mask, stats, record = self.selection(run)
        return self.after_selection(run, mask, stats), record

    def mask(self, run: RunContext) -> Mask:
        return self.selection(run)[0]

    def finish(self, model: TaskModel) -> None:
        pass


RANDOM = SubsetVariant("random", select_random, "k entries uniformly at random")
BITFIT = SubsetVariant("bitfit", select_bitfit, "all bias terms (BitFit)", natural_k=bitfit_k)
FULL = SubsetVariant("full", select_full, "full fine-tuning", natural_k=count_parameters, efficient=False)
LARGEST_DOWNSTREAM_SQGRAD = SubsetVariant("largest_downstream_sqgrad", select_largest_downstream_sqgrad,
                                          "largest squared gradients on the task's training data (eq. 2)")
LARGEST_PRETRAIN_SQGRAD = SubsetVariant("largest_pretrain_sqgrad", select_largest_pretrain_sqgrad,
                                        "largest squared MLM gradients on WikiText")
COMBINED = SubsetVariant("combined", select_combined, "downstream / (1 + pretraining) squared gradients (eq. 3)")
