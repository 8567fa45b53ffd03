"""A penalty toward theta_0 on a variant: "<selector>+l1:<coefficient>" or "+l2:<coefficient>".

The penalty acts on the encoder entries the method trains (`repro.training.penalties`; paper
Table 11 penalises full fine-tuning). It is kept in RunConfig's `regularization` and
`regularization_strength`, and only methods with `takes_penalty` accept one (LoRA's adapters
and pruning without re-training train no encoder entry).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from repro.training.penalties import Regularization

if TYPE_CHECKING:
    from repro.runs.config import RunConfig
    from repro.variants.registry import Variant

EXAMPLE = "+l1:0.01"  # the suffix of the penalised variant in the invariant tests


def fields(text: str, method: Variant) -> dict:
    """RunConfig fields of the penalty written after a variant's "+" ("l1:0.01")."""
    kind, _, strength = text.partition(":")
    try:
        regularization = Regularization(kind, float(strength))
    except ValueError as error:
        raise ValueError(f"write a penalty as '<selector>+l1:<coefficient>' or '+l2:<coefficient>' ({error})") from None
    _refuse_unless_taken(method)
    return {"regularization": regularization.kind, "regularization_strength": regularization.strength}


def regularization_of(config: RunConfig) -> Regularization | None:
    """The config's penalty, None without one."""
    return None if config.regularization is None else Regularization(config.regularization,
                                                                     config.regularization_strength)


def suffix(config: RunConfig) -> str:
    """"+l1:0.01" for a penalised config, "" otherwise."""
    regularization = regularization_of(config)
    return "" if regularization is None else f"+{regularization.label}"


def check(config: RunConfig, method: Variant) -> None:
    """Both penalty fields or neither, a valid penalty, and a method that takes one."""
    if (config.regularization is None) != (config.regularization_strength is None):
        raise ValueError(f"regularization ({config.regularization!r}) and regularization_strength "
                         f"({config.regularization_strength!r}) must be given together")
    if config.regularization is not None:
        regularization_of(config)  # validates both
        _refuse_unless_taken(method)


def _refuse_unless_taken(method: Variant) -> None:
    if not method.takes_penalty:
        raise ValueError(f"regularization toward theta_0 applies to selected encoder entries; "
                         f"{method.name!r} takes none")
