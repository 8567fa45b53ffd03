"""load_task / split_for_run / load_wikitext on a tiny fixture data folder, plus one slow real-data check."""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from repro.data import (
    DATA_DIR_ENV,
    TASKS,
    SequenceExample,
    TaskData,
    load_task,
    load_wikitext,
    resolve_data_dir,
    split_for_run,
)
from repro.data.hub import load_task_from_hub

N_QNLI = 10


def make_data_folder(root: Path) -> Path:
    """Write every file of the local layout, in the raw formats, with a few rows each."""
    files = {
        "sst2/train.tsv": "sentence\tlabel\n" + "".join(f"train sentence {i} \t{i % 2}\n" for i in range(30)),
        "sst2/dev.tsv": "sentence\tlabel\ndev one \t1\ndev two \t0\n",
        "qnli/dev.tsv": "index\tquestion\tsentence\tlabel\n" + "".join(
            f'{i}\tquestion "{i}?\tsentence {i}.\t{"entailment" if i % 2 else "not_entailment"}\n'
            for i in range(N_QNLI)),
        "conll2003/eng.train": "-DOCSTART- -X- -X- O\n\nPeter NNP I-NP I-PER\nsaid VBD I-VP O\n\n",
        "conll2003/eng.testb": "-DOCSTART- -X- -X- O\n\nIn IN I-PP O\nBerlin NNP I-NP I-LOC\n\n",
        "wikitext/wikitext-2/wiki.valid.tokens": " \n = Title = \n \n Valid text . \n",
        "wikitext/wikitext-2/wiki.test.tokens": " \n = Title = \n \n Test text . \n \n = = Part = = \n More . \n",
    }
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    (root / "trec").mkdir()
    (root / "trec/train_5500.label").write_bytes(b"LOC:city Which sister\xf0city ?\nNUM:date When ?\n")
    (root / "trec/TREC_10.label").write_bytes(b"HUM:ind Who ?\n")
    (root / "conll2003_de").mkdir()
    german = "-DOCSTART- -X- -X- -X- O\n\nGro\u00dfer gro\u00df ADJA I-NC O\nBerlin Berlin NE I-NC I-LOC\n\n"
    (root / "conll2003_de/deu.testa").write_bytes(german.encode("latin-1"))
    (root / "conll2003_de/deu.testb").write_bytes((german * 2).encode("latin-1"))
    return root


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    return make_data_folder(tmp_path / "data")


def test_load_local_tasks(data_dir):
    sst2 = load_task("sst2", data_dir)
    assert (len(sst2.train), len(sst2.test)) == (30, 2)
    assert sst2.spec is TASKS["sst2"] and sst2.source == f"local:{data_dir.resolve()}" and sst2.notes == ()
    conll = load_task("conll03", data_dir)
    assert conll.train[0].tokens == ("Peter", "said") and conll.test[0].tags == (0, 5)  # O, B-LOC
    trec = load_task("trec6", str(data_dir))
    assert [TASKS["trec6"].label_names[e.label] for e in trec.train] == ["LOC", "NUM"]
    assert load_task("sst2", data_dir) is sst2  # cached


def test_german_conll_trains_on_testa_and_says_so(data_dir):
    german = load_task("conll03_de", data_dir)
    assert german.train[0].tokens == ("Gro\u00dfer", "Berlin") and german.train[0].tags == (0, 5)  # latin-1, B-LOC
    assert (len(german.train), len(german.test)) == (1, 2) and "deu.testa" in german.notes[0]
    with pytest.raises(ValueError, match="no Hugging Face hub source"):
        load_task_from_hub("conll03_de")


def test_qnli_local_split(data_dir):
    data = load_task("qnli", data_dir)
    assert (len(data.train), len(data.test)) == (8, 2)
    assert not set(data.train) & set(data.test)
    assert sorted(e.text_pair for e in data.train + data.test) == sorted(f"sentence {i}." for i in range(N_QNLI))
    note = " ".join(data.notes)
    assert "QNLI" in note and "80/20" in note and "not comparable" in note
    copy = make_data_folder(data_dir.parent / "copy")  # a fresh, uncached folder gives the same split
    assert load_task("qnli", copy).test == data.test


def test_env_var_and_explicit_dir(data_dir, monkeypatch, tmp_path):
    assert resolve_data_dir(None) is None
    monkeypatch.setenv(DATA_DIR_ENV, str(data_dir))
    assert resolve_data_dir(None) == data_dir.resolve()
    assert load_task("sst2").source == f"local:{data_dir.resolve()}"
    other = make_data_folder(tmp_path / "other")
    assert resolve_data_dir(other) == other.resolve()  # explicit argument wins
    monkeypatch.setenv(DATA_DIR_ENV, "")
    assert resolve_data_dir(None) is None


def test_missing_folder(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        resolve_data_dir(tmp_path / "nowhere")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "envnowhere"))
    with pytest.raises(FileNotFoundError, match="envnowhere"):
        load_task("sst2")


def test_missing_file_message(data_dir):
    (data_dir / "trec/TREC_10.label").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_task("trec6", data_dir)
    message = str(info.value)
    assert str(data_dir.resolve() / "trec" / "TREC_10.label") in message
    assert DATA_DIR_ENV in message and "data_dir" in message and "hub" in message


def test_unknown_task(data_dir):
    with pytest.raises(ValueError) as info:
        load_task("mnli", data_dir)
    assert "mnli" in str(info.value) and all(name in str(info.value) for name in TASKS)


def toy_data(n: int = 20) -> TaskData:
    train = [SequenceExample(f"t{i}", i % 2) for i in range(n)]
    test = [SequenceExample(f"x{i}", 0) for i in range(5)]
    return TaskData(TASKS["sst2"], train, test, "local:toy", ())


def test_split_for_run_sizes_and_determinism():
    data = toy_data()
    run = split_for_run(data, train_size=6, val_size=4, seed=1)
    assert (len(run.train), len(run.validation)) == (6, 4)
    assert not set(run.train) & set(run.validation)
    assert run.test is data.test
    assert split_for_run(data, 6, 4, seed=1) == run
    assert split_for_run(data, 6, 4, seed=2) != run
    rest = split_for_run(data, None, 4, seed=1)
    assert rest.validation == run.validation and len(rest.train) == 16 and rest.train[:6] == run.train
    assert set(rest.train) | set(rest.validation) == set(data.train)
    assert len(split_for_run(data, 16, 4, seed=0).train) == 16  # uses everything


@pytest.mark.parametrize(
    ("train_size", "val_size", "match"),
    [(5, 0, "val_size"), (0, 4, "train_size"), (17, 4, "train_size=17"), (None, 20, "val_size=20")],
)
def test_split_for_run_errors(train_size, val_size, match):
    with pytest.raises(ValueError, match=match):
        split_for_run(toy_data(), train_size, val_size, seed=0)


def test_load_wikitext_local(data_dir):
    assert load_wikitext("validation", data_dir) == ["Valid text ."]
    assert load_wikitext("test", data_dir) == ["Test text .", "More ."]
    with pytest.raises(ValueError, match="train"):
        load_wikitext("train", data_dir)


REAL_DATA = Path(os.environ.get("REPRO_TEST_DATA_DIR", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))


@pytest.mark.slow
@pytest.mark.skipif(not REAL_DATA.is_dir(), reason=f"real data folder {REAL_DATA} not present")
def test_real_data_counts():
    loaded = {name: load_task(name, REAL_DATA) for name in TASKS}
    counts = {name: (len(data.train), len(data.test)) for name, data in loaded.items()}
    assert counts == {"sst2": (67349, 872), "qnli": (4370, 1093), "conll03": (14041, 3453), "trec6": (5452, 500)}
    conll = loaded["conll03"]
    names = TASKS["conll03"].label_names
    entities = Counter(names[t][2:] for e in conll.test for t in e.tags if names[t].startswith("B-"))
    assert entities == {"LOC": 1668, "MISC": 702, "ORG": 1661, "PER": 1617}
    assert sum(len(e.tokens) for e in conll.train) == 203621
    assert Counter(TASKS["trec6"].label_names[e.label] for e in loaded["trec6"].test) == {
        "ABBR": 9, "DESC": 138, "ENTY": 94, "HUM": 65, "LOC": 81, "NUM": 113}
    assert loaded["qnli"].notes
    assert load_wikitext("validation", REAL_DATA) and load_wikitext("test", REAL_DATA)


@pytest.mark.parametrize("relative, content, task", [
    ("conll2003/eng.train", "", "conll03"),
    ("conll2003/eng.testb", "-DOCSTART- -X- -X- O\n\n", "conll03"),
    ("trec/TREC_10.label", "\n", "trec6"),
    ("qnli/dev.tsv", "index\tquestion\tsentence\tlabel\n0\tq\ts\tentailment\n", "qnli"),
])
def test_a_data_file_without_examples_is_refused_naming_it(data_dir, relative, content, task):
    (data_dir / relative).write_text(content)
    with pytest.raises(ValueError, match=rf"data file \S+/{relative} holds \d examples \(needs at least \d\)"):
        load_task(task, data_dir)
