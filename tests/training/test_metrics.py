"""accuracy, entity_f1 (seqeval strict IOB2) and score on hand-made examples."""
from __future__ import annotations

import pytest

from repro.data import TASKS
from repro.training.metrics import accuracy, entity_f1, score


def test_accuracy():
    assert accuracy([1, 0, 1, 1], [1, 1, 1, 0]) == 0.5
    with pytest.raises(ValueError, match="3 predictions but 2 references"):
        accuracy([1, 0, 1], [1, 0])
    with pytest.raises(ValueError):
        accuracy([], [])


def test_entity_f1_partially_wrong_entity():
    references = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predictions = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "O"]]  # PER span too short
    assert entity_f1(predictions, references) == pytest.approx(2 / 3)  # P = R = 2/3
    assert entity_f1(references, references) == 1.0
    # strict IOB2: an I- tag without its B- opener is not an entity
    assert entity_f1([["I-LOC"]], [["B-LOC"]]) == 0.0
    assert entity_f1([["O"]], [["O"]]) == 0.0


def test_entity_f1_length_errors():
    with pytest.raises(ValueError, match="1 predictions but 2 references"):
        entity_f1([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="sentence 0"):
        entity_f1([["O", "O"]], [["O"]])


def test_score_dispatch():
    assert score(TASKS["sst2"], [0, 1], [0, 0]) == 0.5
    # conll label order: O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC, B-MISC, I-MISC
    references = [[1, 2, 0, 5]]
    assert score(TASKS["conll03"], [[1, 2, 0, 5]], references) == 1.0
    assert score(TASKS["conll03"], [[1, 0, 0, 5]], references) == pytest.approx(0.5)
