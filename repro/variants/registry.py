"""The variant registry: every fine-tuning method the study compares, by name.

A variant name is `<method>[:<argument>][+<penalty>]`: "random", "lora:16", "full+l1:0.01".
`RunConfig.selector` holds the method's name; the argument and the penalty set other
RunConfig fields (`variant_fields`), and `variant_name` writes a config's name back.

A method (`Variant`) owns everything that is particular to it: its name and argument, its
checks, its size rule, the Study settings it takes, how it selects or wraps the model and
trains, and what it records. Rules shared by all methods live here: a fixed-size method takes
no subset size, and RunConfig fields that belong to other methods stay at their defaults.
Penalties toward theta_0 ("+l1:<c>", "+l2:<c>") are `repro.variants.penalty`.

Adding a method: one module defining a `Variant`, and one line in `VARIANTS`.
"""
from __future__ import annotations

from dataclasses import fields as dataclass_fields
from typing import TYPE_CHECKING, Protocol

from repro.variants import diff_pruning, diff_pruning_no_retrain, lora, penalty, subset

if TYPE_CHECKING:
    from repro.models import TaskModel
    from repro.runs.config import RunConfig
    from repro.runs.study import Study
    from repro.selection.selectors import Mask
    from repro.training.trainer import MaskedTrainingResult
    from repro.variants.context import RunContext


class Variant(Protocol):
    """A fine-tuning method: the contract every entry of `VARIANTS` meets."""

    name: str                       # RunConfig.selector
    description: str
    fixed_size: bool                # defines its own size: subset_size must be None
    efficient: bool                 # tunes part of the encoder or adapters (parameter-efficient), not all of it
    takes_penalty: bool             # trains encoder entries that "+l1:<c>" / "+l2:<c>" may penalise
    has_mask: bool                  # trains (or keeps) a mask of encoder entries; False: `mask` gives None
    owned_fields: tuple[str, ...]   # RunConfig fields only this method sets; other methods keep their defaults
    examples: tuple[str, ...]       # further variant names worth testing (e.g. "lora:2")

    def fields(self, argument: str | None) -> dict:
        """RunConfig fields of "<name>" (argument None) or "<name>:<argument>"; ValueError for a
        bad or unexpected argument."""

    def label(self, config: RunConfig) -> str:
        """The name of `config`'s variant, without its penalty (inverse of `fields`)."""

    def check(self, config: RunConfig) -> None:
        """ValueError naming the field when `config`'s settings do not fit the method."""

    def study_fields(self, study: Study) -> dict:
        """RunConfig fields the method takes from its Study's settings (e.g. diff pruning's L1 run)."""

    def train(self, run: RunContext) -> tuple[MaskedTrainingResult | None, dict]:
        """Select or wrap and train `run.model` in place; (training, None when nothing trains;
        the selection record: k, fraction, encoder_parameters, seconds and the statistics' costs)."""

    def mask(self, run: RunContext) -> Mask | None:
        """The encoder entries a run trains (or keeps), rebuilt from theta_0 and cached statistics."""

    def finish(self, model: TaskModel) -> None:
        """Make the trained model's encoder a plain encoder again before its weights are saved."""


VARIANTS: dict[str, Variant] = {variant.name: variant for variant in (
    subset.RANDOM,
    subset.BITFIT,
    subset.FULL,
    subset.LARGEST_DOWNSTREAM_SQGRAD,
    subset.LARGEST_PRETRAIN_SQGRAD,
    subset.COMBINED,
    diff_pruning.DIFF_PRUNING,
    diff_pruning_no_retrain.DIFF_PRUNING_NO_RETRAIN,
    lora.LORA,
)}
GRAMMAR = "'<selector>', '<selector>:<argument>' ('lora:16'), '<selector>+l1:<coefficient>' or '+l2:<coefficient>'"


def get_variant(selector: str) -> Variant:
    """The method called `selector` (a `RunConfig.selector`); ValueError listing the known ones."""
    if selector not in VARIANTS:
        raise ValueError(f"unknown selector {selector!r}; known selectors: {sorted(VARIANTS)} "
                         f"(variant names: {GRAMMAR})")
    return VARIANTS[selector]


def _split(name: str) -> tuple[Variant, str | None, str | None]:
    """(method, argument or None, penalty text or None) of a variant name."""
    head, plus, penalty_text = name.partition("+")
    selector, colon, argument = head.partition(":")
    return get_variant(selector), argument if colon else None, penalty_text if plus else None


def variant_fields(name: str) -> dict:
    """The RunConfig fields a variant name sets: "random" -> {"selector": "random"};
    "full+l2:0.1" -> selector "full" with an L2 penalty of 0.1 toward theta_0; "lora:16" ->
    LoRA of rank 16. The inverse of `variant_name`."""
    method, argument, penalty_text = _split(name)
    try:
        fields = method.fields(argument)
        if penalty_text is not None:
            fields |= penalty.fields(penalty_text, method)
    except ValueError as error:
        raise ValueError(f"variant {name!r}: {error}") from None
    return fields


def variant_named(name: str) -> Variant:
    """The method of a variant name ("full+l1:0.01" -> full fine-tuning); the name is checked."""
    variant_fields(name)
    return _split(name)[0]


def variant_of(config: RunConfig) -> Variant:
    """The method of a run (its penalty, if any, is in the config's fields)."""
    return get_variant(config.selector)


def variant_name(config: RunConfig) -> str:
    """`config`'s variant name: the method's label, with "+l1:0.01"-style suffix when penalised."""
    return variant_of(config).label(config) + penalty.suffix(config)


def check_config(config: RunConfig) -> None:
    """Every variant rule for `config`, before any training: the method's own checks, its size
    rule, its penalty, and no setting of another method."""
    variant = variant_of(config)
    if variant.fixed_size and config.subset_size is not None:
        raise ValueError(f"selector {config.selector!r} has a fixed size; subset_size must be None, "
                         f"got {config.subset_size!r}")
    defaults = {f.name: f.default for f in dataclass_fields(config)}
    for field in sorted({f for v in VARIANTS.values() for f in v.owned_fields} - set(variant.owned_fields)):
        if getattr(config, field) != defaults[field]:
            owners = [v.name for v in VARIANTS.values() if field in v.owned_fields]
            raise ValueError(f"{field}={getattr(config, field)!r} belongs to {' and '.join(owners)}, not "
                             f"{config.selector!r}; leave it at {defaults[field]!r}")
    penalty.check(config, variant)
    variant.check(config)


def representatives() -> list[str]:
    """One variant name per method, its `examples`, and one penalised variant: the table of the
    invariant tests."""
    names = list(VARIANTS) + [name for variant in VARIANTS.values() for name in variant.examples]
    penalised = next(v for v in VARIANTS.values() if v.takes_penalty and not v.fixed_size)
    return names + [penalised.name + penalty.EXAMPLE]
