"""Raw-format readers on tiny fixture files written in the exact layouts of the real data."""
from __future__ import annotations

import pytest

from repro.data import (
    SequenceExample,
    TASKS,
    iob1_to_iob2,
    read_conll,
    read_qnli_tsv,
    read_sst2_tsv,
    read_trec,
    read_wikitext,
)

CONLL_NAMES = TASKS["conll03"].label_names


def tags(example) -> list[str]:
    return [CONLL_NAMES[t] for t in example.tags]


def test_sst2_keeps_sentence_exact(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\nhide new secretions \t0\nit 's charming \t1\n", encoding="utf-8")
    assert read_sst2_tsv(path) == [
        SequenceExample("hide new secretions ", 0),
        SequenceExample("it 's charming ", 1),
    ]


@pytest.mark.parametrize("content", ["text\tlabel\nx\t0\n", "sentence\tlabel\nx\t2\n", "sentence\tlabel\nx\n"])
def test_sst2_rejects_malformed(tmp_path, content):
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="bad.tsv"):
        read_sst2_tsv(path)


def test_qnli_pairs_and_quotes(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text(
        "index\tquestion\tsentence\tlabel\n"
        '0\tWhat is "Q?\tThe so-called "quote never closes.\tentailment\n'
        "1\tWho?\tNobody \u2028knows.\tnot_entailment\n",
        encoding="utf-8",
    )
    examples = read_qnli_tsv(path)
    assert examples == [
        SequenceExample('What is "Q?', 0, 'The so-called "quote never closes.'),
        SequenceExample("Who?", 1, "Nobody \u2028knows."),
    ]


def test_qnli_unknown_label(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text("index\tquestion\tsentence\tlabel\n0\tq\ts\tneutral\n", encoding="utf-8")
    with pytest.raises(ValueError, match="neutral"):
        read_qnli_tsv(path)


def test_iob1_to_iob2():
    assert iob1_to_iob2(["I-PER", "I-PER", "B-PER", "I-LOC"]) == ["B-PER", "I-PER", "B-PER", "B-LOC"]
    assert iob1_to_iob2(["O", "I-ORG", "I-PER", "O", "I-MISC", "I-MISC"]) == [
        "O", "B-ORG", "B-PER", "O", "B-MISC", "I-MISC"]
    assert iob1_to_iob2([]) == []


def test_conll_docstart_sentences_and_iob2(tmp_path):
    path = tmp_path / "eng.train"
    path.write_text(
        "-DOCSTART- -X- -X- O\n\n"
        "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\nSmith NNP I-NP B-PER\nBerlin NNP I-NP I-LOC\n\n\n"
        "EU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\n"
        "-DOCSTART- -X- -X- O\n\n"
        "German JJ I-NP I-MISC\n"
        "-DOCSTART- -X- -X- O",  # the real files may end on a DOCSTART line without a newline
        encoding="utf-8",
    )
    examples = read_conll(path)
    assert [e.tokens for e in examples] == [
        ("Peter", "Blackburn", "Smith", "Berlin"), ("EU", "rejects"), ("German",)]
    assert [tags(e) for e in examples] == [
        ["B-PER", "I-PER", "B-PER", "B-LOC"], ["B-ORG", "O"], ["B-MISC"]]


def test_conll_unknown_tag(tmp_path):
    path = tmp_path / "eng.testb"
    path.write_text("Peter NNP I-NP I-PERSON\n", encoding="utf-8")
    with pytest.raises(ValueError, match="eng.testb:1"):
        read_conll(path)


def test_trec_latin1_and_coarse_label(tmp_path):
    path = tmp_path / "train_5500.label"
    path.write_bytes(
        b"DESC:manner How did serfdom develop ?\n"
        b"LOC:city Which city has the oldest relationship as a sister\xf0city with Los Angeles ?\n"
        b"ABBR:exp What is AIDS ?\n"
    )
    names = TASKS["trec6"].label_names
    examples = read_trec(path)
    assert [names[e.label] for e in examples] == ["DESC", "LOC", "ABBR"]
    assert examples[1].text == "Which city has the oldest relationship as a sister\u00f0city with Los Angeles ?"
    assert examples[0].text == "How did serfdom develop ?"


def test_trec_malformed(tmp_path):
    path = tmp_path / "TREC_10.label"
    path.write_bytes(b"WHAT:x Is this ?\n")
    with pytest.raises(ValueError, match="TREC_10.label:1"):
        read_trec(path)


def test_wikitext_drops_headings_and_blanks(tmp_path):
    path = tmp_path / "wiki.valid.tokens"
    path.write_text(
        " \n = Homarus gammarus = \n \n Homarus gammarus is a <unk> lobster . \n \n"
        " = = Description = = \n It weighs 5 @-@ 6 kg . \n = = = Deep = = = \n",
        encoding="utf-8",
    )
    assert read_wikitext(path) == ["Homarus gammarus is a <unk> lobster .", "It weighs 5 @-@ 6 kg ."]


@pytest.mark.parametrize("reader, name, content, where", [
    (read_sst2_tsv, "train.tsv", b"sentence\tlabel\ngood \t1\nbad \xff film \t0\n", "train.tsv:3: not utf-8 text: byte ff"),
    (read_conll, "eng.train", b"John NNP I-NP I-PER\n\nJ\xc3rgen NNP I-NP I-PER\n", "eng.train:3: not utf-8 text: byte c3"),
    (read_wikitext, "wiki.valid.tokens", b"\xfe = Title = \n", "wiki.valid.tokens:1: not utf-8 text: byte fe"),
])
def test_a_byte_that_is_not_utf8_names_file_and_line(tmp_path, reader, name, content, where):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=where):
        reader(path)


def test_an_empty_tsv_file_says_so(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"data file .*train.tsv is empty \(expected header"):
        read_sst2_tsv(path)
