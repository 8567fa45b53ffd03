"""LoRA, the paper's non-selective baseline: rank-r adapters on the attention query and value
projections (`repro.training.lora`), trained with the decoder and merged into the encoder
before its weights are saved. "lora" is rank 4 (the paper's Table 1), "lora:<rank>" any other
rank (Table 9). A fixed-size variant without a mask: its k is the number of adapter
parameters, recorded as a share of the encoder's parameters.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from repro.models import encoder_parameters
from repro.selection.selectors import count_parameters
from repro.training.lora import add_lora, lora_entries, merge_lora

if TYPE_CHECKING:
    from repro.models import TaskModel
    from repro.runs.config import RunConfig
    from repro.runs.study import Study
    from repro.training.trainer import MaskedTrainingResult
    from repro.variants.context import RunContext

DEFAULT_RANK = 4  # the paper's Table 1 rank: the variant "lora"


@dataclass(frozen=True)
class LoRA:
    name: str = "lora"
    description: str = "rank-r adapters on the attention query and value projections (LoRA)"
    fixed_size: bool = True
    efficient: bool = True
    takes_penalty: bool = False
    has_mask: bool = False
    owned_fields: tuple[str, ...] = ("lora_rank",)
    examples: tuple[str, ...] = ("lora:2",)

    def fields(self, argument: str | None) -> dict:
        if argument is None:
            return {"selector": self.name, "lora_rank": DEFAULT_RANK}
        if not argument.isdigit() or int(argument) < 1:
            raise ValueError(f"write a LoRA rank as '{self.name}:<rank>' with an integer rank >= 1, got {argument!r}")
        return {"selector": self.name, "lora_rank": int(argument)}

    def label(self, config: RunConfig) -> str:
        return rank_variant(config.lora_rank)

    def check(self, config: RunConfig) -> None:
        if config.lora_rank < 1:
            raise ValueError(f"LoRA rank {config.lora_rank!r} must be >= 1")

    def study_fields(self, study: Study) -> dict:
        return {}

    def train(self, run: RunContext) -> tuple[MaskedTrainingResult, dict]:
        """Add rank-`lora_rank` adapters and train them with the decoder."""
        encoder_size = count_parameters(encoder_parameters(run.model))
        adapters = add_lora(run.model, run.config.lora_rank, run.config.seed)
        record = {"k": adapters, "fraction": adapters / encoder_size, "encoder_parameters": encoder_size,
                  "seconds": 0.0}
        return run.train_entries(lora_entries(run.model)), record

    def mask(self, run: RunContext) -> None:
        return None

    def finish(self, model: TaskModel) -> None:
        merge_lora(model)


LORA = LoRA()


def rank_variant(rank: int) -> str:
    """The variant name of LoRA at `rank`: "lora" at the default rank, else "lora:<rank>"."""
    return LORA.name if rank == DEFAULT_RANK else f"{LORA.name}:{rank}"
