"""Example types, the task registry and the containers handed to the trainer.

All example types are frozen dataclasses, so cached task data can be shared safely;
the lists holding them must not be mutated by callers.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from repro.data.fingerprint import task_fingerprint


@dataclass(frozen=True)
class SequenceExample:
    """One sentence (or sentence pair) classification example; `label` indexes TaskSpec.label_names."""

    text: str
    label: int
    text_pair: str | None = None  # QNLI: text=question, text_pair=sentence


@dataclass(frozen=True)
class TokenExample:
    """One NER sentence: words and their IOB2 tags as indices into TaskSpec.label_names."""

    tokens: tuple[str, ...]
    tags: tuple[int, ...]


@dataclass(frozen=True)
class TaskSpec:
    """Static description of a task: label order, metric, which official split is our test set,
    and the documented size of its training split (for estimates that must not download it)."""

    name: str
    kind: str  # "sequence" | "token"
    label_names: tuple[str, ...]
    metric: str  # "accuracy" | "entity_f1"
    test_split: str
    train_examples: int  # the hub's training split; conll03_de (not on the hub): deu.testa, its training data


TASKS: dict[str, TaskSpec] = {
    "sst2": TaskSpec("sst2", "sequence", ("negative", "positive"), "accuracy", "GLUE dev (872)", 67_349),
    "qnli": TaskSpec(
        "qnli",
        "sequence",
        ("entailment", "not_entailment"),
        "accuracy",
        "GLUE dev (5,463); offline: a fixed 20% of it (1,093)",
        104_743,  # offline: 80% of GLUE dev (4,370)
    ),
    "conll03": TaskSpec(
        "conll03",
        "token",
        ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"),
        "entity_f1",
        "CoNLL-2003 test, eng.testb (3,453 sentences)",
        14_041,  # eng.train sentences
    ),
    "conll03_de": TaskSpec(
        "conll03_de",
        "token",
        ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"),
        "entity_f1",
        "CoNLL-2003 German test, deu.testb (3,005 sentences); trained on deu.testa (no train split offline)",
        2_867,  # deu.testa sentences
    ),
    "trec6": TaskSpec(
        "trec6",
        "sequence",
        ("ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"),
        "accuracy",
        "TREC-10 test (500)",
        5_452,  # train_5500.label
    ),
}


def get_task_spec(name: str) -> TaskSpec:
    """Return the registered spec; ValueError naming the bad name and the known ones otherwise."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}") from None


@dataclass(frozen=True)
class TaskData:
    """Full train and test examples of one task, where they came from, and caveats for the book."""

    spec: TaskSpec
    train: list
    test: list
    source: str  # "local:<folder>" or "hub:<dataset id>"
    notes: tuple[str, ...] = ()

    @functools.cached_property
    def fingerprint(self) -> str:
        """What the examples are (`repro.data.fingerprint.task_fingerprint`), computed once."""
        return task_fingerprint(self)


@dataclass(frozen=True)
class RunSplits:
    """The examples one run uses: a train subset, a validation subset carved from train, the full test."""

    train: list
    validation: list
    test: list
