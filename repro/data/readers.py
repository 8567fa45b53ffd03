"""Parsers of the raw local data formats (layouts: `repro.data.tasks` and the README's data section).

Every reader takes one file path and returns examples in the schema of `repro.data.schema`;
label strings are mapped to indices of the task's `label_names`. Malformed input raises
ValueError naming the file and line.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .schema import TASKS, SequenceExample, TokenExample

PathLike = str | os.PathLike


def _label_index(task: str) -> dict[str, int]:
    return {label: i for i, label in enumerate(TASKS[task].label_names)}


def _lines(path: PathLike, encoding: str) -> list[str]:
    """Lines of a text file (universal newlines), split on '\\n' only: str.splitlines would also break on U+0085.
    ValueError naming the file, line and byte when it is not text in `encoding`."""
    try:
        return Path(path).read_text(encoding=encoding).split("\n")
    except UnicodeDecodeError as error:
        line = error.object[:error.start].count(b"\n") + 1
        bad = error.object[error.start:error.end]
        raise ValueError(f"{path}:{line}: not {encoding} text: byte {bad.hex(' ')} ({error.reason}) at position "
                         f"{error.start} of the file") from None


def _read_tsv(path: PathLike, header: Sequence[str]) -> list[tuple[int, list[str]]]:
    """Rows as (line number, fields), split on tabs only (quotes are literal), header checked."""
    lines = _lines(path, "utf-8")
    if not any(lines):
        raise ValueError(f"data file {path} is empty (expected header {chr(9).join(header)!r}, then examples)")
    if lines[0].split("\t") != list(header):
        raise ValueError(f"{path}:1: expected header {chr(9).join(header)!r}, got {lines[0][:80]!r}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise ValueError(f"{path}:{number}: expected {len(header)} tab-separated fields, got {len(fields)}")
        rows.append((number, fields))
    return rows


def read_sst2_tsv(path: PathLike) -> list[SequenceExample]:
    """GLUE SST-2 `sentence\\tlabel` file (label 0/1); the sentence is kept byte-exact (trailing space too)."""
    examples = []
    for number, (sentence, label) in _read_tsv(path, ("sentence", "label")):
        if label not in ("0", "1"):
            raise ValueError(f"{path}:{number}: label must be 0 or 1, got {label!r}")
        examples.append(SequenceExample(text=sentence, label=int(label)))
    return examples


def read_qnli_tsv(path: PathLike) -> list[SequenceExample]:
    """GLUE QNLI `index\\tquestion\\tsentence\\tlabel` file with string labels; text=question, text_pair=sentence."""
    labels = _label_index("qnli")
    examples = []
    for number, (_, question, sentence, label) in _read_tsv(path, ("index", "question", "sentence", "label")):
        if label not in labels:
            raise ValueError(f"{path}:{number}: label must be one of {sorted(labels)}, got {label!r}")
        examples.append(SequenceExample(text=question, label=labels[label], text_pair=sentence))
    return examples


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """Convert IOB1 tags to IOB2: an I-X not continuing an entity of type X becomes B-X."""
    converted = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        converted.append(tag)
        previous = tag
    return converted


def read_conll(path: PathLike, encoding: str = "utf-8") -> list[TokenExample]:
    """CoNLL-2003 file (`word POS chunk NER`, IOB1); `-DOCSTART-` lines dropped, tags converted to IOB2."""
    labels = _label_index("conll03")
    examples = []
    words: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if words:
            iob2 = iob1_to_iob2(tags)
            examples.append(TokenExample(tokens=tuple(words), tags=tuple(labels[t] for t in iob2)))
            words.clear()
            tags.clear()

    for number, line in enumerate(_lines(path, encoding), start=1):
        fields = line.split()
        if not fields:
            flush()
            continue
        if fields[0] == "-DOCSTART-":
            flush()
            continue
        if len(fields) < 2 or fields[-1] not in labels:
            raise ValueError(f"{path}:{number}: expected 'word ... NER' with a known NER tag, got {line!r}")
        words.append(fields[0])
        tags.append(fields[-1])
    flush()
    return examples


def read_trec(path: PathLike) -> list[SequenceExample]:
    """TREC `COARSE:fine question` file (latin-1); the label is the coarse class."""
    labels = _label_index("trec6")
    examples = []
    for number, line in enumerate(_lines(path, "latin-1"), start=1):
        if not line.strip():
            continue
        label, _, question = line.partition(" ")
        coarse = label.split(":", 1)[0]
        if coarse not in labels or ":" not in label:
            raise ValueError(f"{path}:{number}: expected 'COARSE:fine question', got {line!r}")
        examples.append(SequenceExample(text=question.strip(), label=labels[coarse]))
    return examples


def wikitext_paragraphs(lines: Iterable[str]) -> list[str]:
    """Stripped non-empty lines, with section headings (` = Title = `, ` = = Sub = = `) dropped."""
    paragraphs = []
    for line in lines:
        text = line.strip()
        if text and not (text.startswith("= ") and text.endswith(" =")):
            paragraphs.append(text)
    return paragraphs


def read_wikitext(path: PathLike) -> list[str]:
    """WikiText `wiki.*.tokens` file (UTF-8) as a list of paragraphs (see `wikitext_paragraphs`)."""
    return wikitext_paragraphs(_lines(path, "utf-8"))
