"""Shared fixtures: a tiny but learnable data folder in the raw formats, and a results folder."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from repro.data import DATA_DIR_ENV

POSITIVE = ["good", "great", "lovely", "fine", "superb", "happy"]
NEGATIVE = ["bad", "awful", "dull", "poor", "boring", "sad"]


def write_study_data(root: Path, n_train: int = 60, n_test: int = 20) -> Path:
    """SST-2 rows whose label is told by a sentiment word, a few CoNLL sentences (English and
    German), TREC questions and WikiText paragraphs."""
    rng = random.Random(0)

    def rows(n):
        out = []
        for i in range(n):
            label = i % 2
            word = rng.choice(POSITIVE if label else NEGATIVE)
            out.append(f"the film was {word} and {rng.choice(['long', 'short', 'new'])} \t{label}\n")
        return "sentence\tlabel\n" + "".join(out)

    (root / "sst2").mkdir(parents=True)
    (root / "sst2/train.tsv").write_text(rows(n_train))
    (root / "sst2/dev.tsv").write_text(rows(n_test))
    sentence = "-DOCSTART- -X- -X- O\n\n" + "John NNP I-NP I-PER\nlives VBZ I-VP O\nin IN I-PP O\nParis NNP I-NP I-LOC\n\n"
    (root / "conll2003").mkdir()
    (root / "conll2003/eng.train").write_text(sentence + "Mary NNP I-NP I-PER\nruns VBZ I-VP O\n\n" * 30)
    (root / "conll2003/eng.testb").write_text(sentence * 3)
    (root / "conll2003_de").mkdir()
    german = "-DOCSTART- -X- -X- -X- O\n\n" + "Jürgen Jürgen NE I-NC I-PER\nlebt leben VVFIN I-VC O\n\n" * 30
    (root / "conll2003_de/deu.testa").write_bytes(german.encode("latin-1"))
    (root / "conll2003_de/deu.testb").write_bytes((sentence.replace(" O\n", " O O\n")).encode("latin-1"))
    (root / "trec").mkdir()
    questions = [("HUM:ind", "Who wrote the book ?"), ("LOC:city", "Where is the castle ?"), ("NUM:date", "When did it fall ?")]
    (root / "trec/train_5500.label").write_text("".join(f"{label} {text}\n" for label, text in questions * 14), "latin-1")
    (root / "trec/TREC_10.label").write_text("".join(f"{label} {text}\n" for label, text in questions * 3), "latin-1")
    wiki = root / "wikitext" / "wikitext-2"
    wiki.mkdir(parents=True)
    paragraph = " The castle stands on a hill above the river , and the town grew around its walls . \n"
    for split in ("valid", "test"):
        (wiki / f"wiki.{split}.tokens").write_text(" \n = History = \n \n" + paragraph * 60)
    return root


@pytest.fixture
def study_data(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return write_study_data(tmp_path / "data")
