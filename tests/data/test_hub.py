"""Hub converters on in-memory datasets shaped like the hub's, and hub loading with a stubbed load_dataset."""
from __future__ import annotations

import datasets
import pytest
from datasets import ClassLabel, Dataset, Features, Sequence, Value

from repro.data import (
    DATA_DIR_ENV,
    TASKS,
    SequenceExample,
    TokenExample,
    from_hub_conll,
    from_hub_qnli,
    from_hub_sst2,
    from_hub_trec,
    from_hub_wikitext,
    load_task,
    load_wikitext,
)
from repro.data import tasks


@pytest.fixture(autouse=True)
def fresh_hub_cache(monkeypatch):
    """load_task caches hub results per task; stubbed hub data must not leak into other tests."""
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    tasks._load_task_cached.cache_clear()
    yield
    tasks._load_task_cached.cache_clear()


def sst2_split() -> Dataset:
    features = Features({"sentence": Value("string"), "label": ClassLabel(names=["negative", "positive"]),
                         "idx": Value("int32")})
    return Dataset.from_dict({"sentence": ["bad film ", "good film "], "label": [0, 1], "idx": [0, 1]}, features)


def test_from_hub_sst2():
    assert from_hub_sst2(sst2_split()) == [SequenceExample("bad film ", 0), SequenceExample("good film ", 1)]


def test_from_hub_qnli():
    ds = Dataset.from_dict({"question": ["Who?"], "sentence": ['He "said".'], "label": [1], "idx": [0]})
    assert from_hub_qnli(ds) == [SequenceExample("Who?", 1, 'He "said".')]


def conll_split(names=TASKS["conll03"].label_names) -> Dataset:
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=list(names)))})
    return Dataset.from_dict({"tokens": [["Peter", "Blackburn", "in", "Berlin"]], "ner_tags": [[1, 2, 0, 5]]},
                             features=features)


def test_from_hub_conll():
    assert from_hub_conll(conll_split()) == [TokenExample(("Peter", "Blackburn", "in", "Berlin"), (1, 2, 0, 5))]


def test_from_hub_conll_rejects_other_label_order():
    with pytest.raises(ValueError, match="ner_tags"):
        from_hub_conll(conll_split(names=["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC",
                                          "I-MISC"]))


def test_from_hub_trec():
    features = Features({"text": Value("string"), "coarse_label": ClassLabel(names=list(TASKS["trec6"].label_names)),
                         "fine_label": Value("int64")})
    ds = Dataset.from_dict({"text": ["Who is he ?", "What is AIDS ?"], "coarse_label": [3, 0],
                            "fine_label": [29, 1]}, features=features)
    assert from_hub_trec(ds) == [SequenceExample("Who is he ?", 3), SequenceExample("What is AIDS ?", 0)]


def test_from_hub_wikitext():
    ds = Dataset.from_dict({"text": ["", " = Valkyria = \n", "", " First paragraph . \n", " = = Sub = = \n",
                                     " Second . \n"]})
    assert from_hub_wikitext(ds) == ["First paragraph .", "Second ."]


def test_hub_loading_uses_converters(monkeypatch):
    calls = []

    def fake_load_dataset(path, name=None, split=None, revision=None):
        calls.append((path, name, split))
        assert revision is None  # GLUE is stored as parquet
        return sst2_split()

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    data = load_task("sst2")
    assert data.source == "hub:nyu-mll/glue" and len(data.train) == len(data.test) == 2
    assert calls == [("nyu-mll/glue", "sst2", "train"), ("nyu-mll/glue", "sst2", "validation")]


def test_hub_failure_is_explained(monkeypatch):

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(RuntimeError) as info:
        load_task("trec6")
    message = str(info.value)
    assert "hub" in message and DATA_DIR_ENV in message and "data_dir" in message and "no network" in message
    with pytest.raises(RuntimeError, match=DATA_DIR_ENV):
        load_wikitext("test")
