"""Task scores, as fractions in [0, 1].

- `accuracy`: share of exact matches.
- `entity_f1`: seqeval micro F1 over entities, strict IOB2 (an entity counts only if type and exact
  span match; an I-X without a B-X opener is not an entity).
- `score(spec, predictions, references)`: the task's metric; token tasks take tag-index sequences.
All raise ValueError on length mismatches (naming both lengths) and on empty input.
"""
from __future__ import annotations

from collections.abc import Sequence

from repro.data.schema import TaskSpec


def _check_lengths(predictions: Sequence, references: Sequence, what: str = "examples") -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references ({what})")
    if not references:
        raise ValueError("cannot score an empty set of predictions")


def accuracy(predictions: Sequence[int], references: Sequence[int]) -> float:
    """Fraction of predictions equal to their reference."""
    _check_lengths(predictions, references)
    return sum(int(p) == int(r) for p, r in zip(predictions, references)) / len(references)


def entity_f1(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> float:
    """seqeval micro entity F1 (mode="strict", scheme=IOB2) of tag-string sentences; 0.0 if no entities at all."""
    _check_lengths(predictions, references, "sentences")
    for i, (p, r) in enumerate(zip(predictions, references)):
        if len(p) != len(r):
            raise ValueError(f"sentence {i}: {len(p)} predicted tags but {len(r)} reference tags")
    from seqeval.metrics import f1_score  # here, not at the top: seqeval pulls in scikit-learn
    from seqeval.scheme import IOB2

    return float(f1_score([list(r) for r in references], [list(p) for p in predictions],
                          mode="strict", scheme=IOB2, zero_division=0))


def score(spec: TaskSpec, predictions: Sequence, references: Sequence) -> float:
    """The task's metric: labels for "accuracy", tag-index sequences (mapped via spec.label_names) for "entity_f1"."""
    if spec.metric == "accuracy":
        return accuracy(predictions, references)
    if spec.metric == "entity_f1":
        names = spec.label_names
        return entity_f1([[names[t] for t in seq] for seq in predictions],
                         [[names[t] for t in seq] for seq in references])
    raise ValueError(f"unknown metric {spec.metric!r} of task {spec.name!r}; allowed: 'accuracy', 'entity_f1'")
