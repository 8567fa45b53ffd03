"""Hugging Face hub path: pure converters from one `datasets.Dataset` split to our schema, and the loading.

Converters check that ClassLabel columns (when typed) use exactly our label order and raise
ValueError otherwise. `load_task_from_hub` / `load_wikitext_from_hub` wrap every hub failure
(no network, dataset gone or script-based) in a RuntimeError that explains how to use a local
data folder instead.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .readers import wikitext_paragraphs
from .schema import SequenceExample, TaskData, TokenExample, get_task_spec

HUB_HELP = (
    "pass data_dir=... (notebook parameter `data_dir`) or set the REPRO_DATA_DIR environment variable "
    "to a local data folder (the layout of `repro.data.tasks`) to load the data without the hub"
)
QNLI_HUB_NOTE = (
    "QNLI loaded from the Hugging Face hub: the official train split is train and the GLUE dev set "
    "is test. The offline data folder instead splits GLUE dev 80/20 into train/test, so "
    "hub and offline QNLI scores are not comparable."
)


def _check_label_names(ds, column: str, expected: Sequence[str]) -> None:
    """ValueError if `column` is typed as ClassLabel (or a list of them) with names other than `expected`."""
    feature = ds.features[column]
    feature = getattr(feature, "feature", feature)  # List/Sequence of ClassLabel
    names = getattr(feature, "names", None)
    if names is not None and tuple(names) != tuple(expected):
        raise ValueError(f"column {column!r} has labels {list(names)}, expected {list(expected)}")


def from_hub_sst2(ds) -> list[SequenceExample]:
    """nyu-mll/glue sst2 split (sentence, label, idx)."""
    _check_label_names(ds, "label", get_task_spec("sst2").label_names)
    return [SequenceExample(text=s, label=int(y)) for s, y in zip(ds["sentence"], ds["label"])]


def from_hub_qnli(ds) -> list[SequenceExample]:
    """nyu-mll/glue qnli split (question, sentence, label, idx); text=question, text_pair=sentence."""
    _check_label_names(ds, "label", get_task_spec("qnli").label_names)
    return [
        SequenceExample(text=q, label=int(y), text_pair=s)
        for q, s, y in zip(ds["question"], ds["sentence"], ds["label"])
    ]


def from_hub_conll(ds) -> list[TokenExample]:
    """conll2003 split (lhoestq/conll2003) (tokens, ner_tags as IOB2 indices in our label order)."""
    _check_label_names(ds, "ner_tags", get_task_spec("conll03").label_names)
    return [
        TokenExample(tokens=tuple(words), tags=tuple(int(t) for t in tags))
        for words, tags in zip(ds["tokens"], ds["ner_tags"])
    ]


def from_hub_trec(ds) -> list[SequenceExample]:
    """CogComp/trec split (text, coarse_label, fine_label); the label is the coarse class."""
    _check_label_names(ds, "coarse_label", get_task_spec("trec6").label_names)
    return [SequenceExample(text=t, label=int(y)) for t, y in zip(ds["text"], ds["coarse_label"])]


def from_hub_wikitext(ds) -> list[str]:
    """Salesforce/wikitext split (text): non-empty paragraphs without section headings."""
    return wikitext_paragraphs(ds["text"])


@dataclass(frozen=True)
class HubSource:
    """Where a task lives on the hub and which hub splits serve as our train and test."""

    path: str
    config: str | None
    train_split: str
    test_split: str
    convert: Callable
    notes: tuple[str, ...] = ()
    revision: str | None = None  # script-based datasets: the hub's parquet conversion


HUB_SOURCES: dict[str, HubSource] = {
    "sst2": HubSource("nyu-mll/glue", "sst2", "train", "validation", from_hub_sst2),
    "qnli": HubSource("nyu-mll/glue", "qnli", "train", "validation", from_hub_qnli, (QNLI_HUB_NOTE,)),
    # datasets >= 4 refuses loading scripts: a parquet copy of conll2003, and TREC's parquet conversion
    "conll03": HubSource("lhoestq/conll2003", None, "train", "test", from_hub_conll),
    "trec6": HubSource("CogComp/trec", None, "train", "test", from_hub_trec, revision="refs/convert/parquet"),
}
WIKITEXT_SOURCE = ("Salesforce/wikitext", "wikitext-2-raw-v1")


def _load_split(path: str, config: str | None, split: str, revision: str | None = None):
    import datasets

    try:
        return datasets.load_dataset(path, config, split=split, revision=revision)
    except Exception as error:  # any hub failure: offline, renamed, unsupported loading script, ...
        raise RuntimeError(
            f"could not load {path} ({config or 'default'}, split {split!r}) from the Hugging Face hub: "
            f"{type(error).__name__}: {error}. The hub could not be reached or refused the dataset; {HUB_HELP}."
        ) from error


def load_task_from_hub(name: str) -> TaskData:
    """Full train and test of a registered task, downloaded (or read from the datasets cache)."""
    spec = get_task_spec(name)
    if name not in HUB_SOURCES:
        raise ValueError(f"task {name!r} has no Hugging Face hub source (CoNLL-2003 German is licensed and not "
                         f"on the hub); hub tasks: {', '.join(sorted(HUB_SOURCES))}. Use a data folder.")
    source = HUB_SOURCES[name]
    train = source.convert(_load_split(source.path, source.config, source.train_split, source.revision))
    test = source.convert(_load_split(source.path, source.config, source.test_split, source.revision))
    return TaskData(spec=spec, train=train, test=test, source=f"hub:{source.path}", notes=source.notes)


def load_wikitext_from_hub(split: str) -> list[str]:
    """WikiText-2 (raw) `validation` or `test` paragraphs from the hub."""
    return from_hub_wikitext(_load_split(*WIKITEXT_SOURCE, split))
