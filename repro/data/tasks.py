"""Task loading (local data folder or Hugging Face hub), per-run splitting, and WikiText.

Data folder resolution: an explicit `data_dir` wins, else the REPRO_DATA_DIR environment
variable, else None, meaning "load from the hub". Local layout (file names as the data sets ship them):

    sst2/train.tsv, sst2/dev.tsv                 train, test (GLUE dev)
    qnli/dev.tsv                                  GLUE dev only: split 80/20 (fixed seed 0) into train/test
    conll2003/eng.train, conll2003/eng.testb      train, test
    trec/train_5500.label, trec/TREC_10.label     train, test
    conll2003_de/deu.testa, conll2003_de/deu.testb  train (the official dev set), test; latin-1
    wikitext/wikitext-2/wiki.{valid,test}.tokens  WikiText-2 validation, test

`load_task` results are cached per (task, resolved folder) and shared: do not mutate their lists.
"""
from __future__ import annotations

import functools
import os
import random
from collections.abc import Callable
from pathlib import Path

from . import readers
from .fingerprint import lines_fingerprint
from .hub import load_task_from_hub, load_wikitext_from_hub
from .schema import RunSplits, TaskData, get_task_spec

DATA_DIR_ENV = "REPRO_DATA_DIR"
QNLI_SPLIT_SEED = 0
QNLI_TRAIN_FRACTION = 0.8
QNLI_LOCAL_NOTE = (
    "QNLI's train split is not available offline, so the GLUE dev set ({total:,} pairs) was split 80/20 "
    "(fixed seed 0) into train ({train:,}) and test ({test:,}); QNLI scores are not comparable to the paper's."
)

# task -> (reader, train file, test file), paths relative to the data folder
LOCAL_FILES: dict[str, tuple[Callable, str, str]] = {
    "sst2": (readers.read_sst2_tsv, "sst2/train.tsv", "sst2/dev.tsv"),
    "conll03": (readers.read_conll, "conll2003/eng.train", "conll2003/eng.testb"),
    "trec6": (readers.read_trec, "trec/train_5500.label", "trec/TREC_10.label"),
    "conll03_de": (functools.partial(readers.read_conll, encoding="latin-1"), "conll2003_de/deu.testa",
                   "conll2003_de/deu.testb"),
}
GERMAN_NOTE = ("CoNLL-2003 German has no train split here: the official dev set (deu.testa, {train:,} sentences) "
               "is the training data and deu.testb ({test:,}) the test set; scores are not comparable to the paper's.")
QNLI_FILE = "qnli/dev.tsv"
WIKITEXT_FILES = {
    "validation": "wikitext/wikitext-2/wiki.valid.tokens",
    "test": "wikitext/wikitext-2/wiki.test.tokens",
}


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """Explicit folder, else $REPRO_DATA_DIR (if non-empty), else None (= hub). FileNotFoundError if it is missing."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    if chosen is None:
        return None
    path = Path(chosen).expanduser().resolve()
    if not path.is_dir():
        origin = "data_dir" if data_dir is not None else DATA_DIR_ENV
        raise FileNotFoundError(f"data folder {path} (from {origin}) does not exist")
    return path


def _require(folder: Path, relative: str) -> Path:
    path = folder / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"expected data file {path} is missing. Point the project at a complete data folder: pass "
            f"data_dir=... (notebook parameter `data_dir`) or set {DATA_DIR_ENV}, or leave both unset "
            "to load from the Hugging Face hub."
        )
    return path


def split_qnli_dev(examples: list) -> tuple[list, list]:
    """Fixed 80/20 split (random.Random(0) shuffle of indices); each part keeps the file order."""
    order = list(range(len(examples)))
    random.Random(QNLI_SPLIT_SEED).shuffle(order)
    n_train = int(len(examples) * QNLI_TRAIN_FRACTION)
    return [examples[i] for i in sorted(order[:n_train])], [examples[i] for i in sorted(order[n_train:])]


def _read(reader: Callable, path: Path, minimum: int = 1) -> list:
    """The examples of one data file; ValueError naming it when it holds fewer than `minimum`."""
    examples = reader(path)
    if len(examples) < minimum:
        raise ValueError(f"data file {path} holds {len(examples)} examples (needs at least {minimum}): "
                         "is it empty or cut short?")
    return examples


def _load_local(name: str, folder: Path) -> TaskData:
    """A task from a data folder; ValueError naming a file without examples."""
    spec = get_task_spec(name)
    source = f"local:{folder}"
    if name == "qnli":  # at least one example in each part of the 80/20 split
        train, test = split_qnli_dev(_read(readers.read_qnli_tsv, _require(folder, QNLI_FILE), minimum=2))
        note = QNLI_LOCAL_NOTE.format(total=len(train) + len(test), train=len(train), test=len(test))
        return TaskData(spec=spec, train=train, test=test, source=source, notes=(note,))
    reader, train_file, test_file = LOCAL_FILES[name]
    train, test = _read(reader, _require(folder, train_file)), _read(reader, _require(folder, test_file))
    notes = (GERMAN_NOTE.format(train=len(train), test=len(test)),) if name == "conll03_de" else ()
    return TaskData(spec=spec, train=train, test=test, source=source, notes=notes)


def task_files(name: str) -> tuple[str, ...]:
    """The files of a task in a data folder, relative to it."""
    return (QNLI_FILE,) if name == "qnli" else LOCAL_FILES[name][1:]


def _file_states(name: str, folder: Path | None) -> tuple:
    """(size, modification time) of a task's local files: a file changed on disk is read again."""
    if folder is None:
        return ()
    states = []
    for relative in task_files(name):
        path = folder / relative
        stat = path.stat() if path.is_file() else None
        states.append((relative, stat.st_size, stat.st_mtime_ns) if stat else (relative, None, None))
    return tuple(states)


@functools.lru_cache(maxsize=None)
def _load_task_cached(name: str, folder: Path | None, file_states: tuple) -> TaskData:
    return load_task_from_hub(name) if folder is None else _load_local(name, folder)


def load_task(name: str, data_dir: str | os.PathLike | None = None) -> TaskData:
    """Full train and test of a task from the resolved data folder, or from the hub when there is none.
    Cached per process, and read again when one of its files changed size or modification time."""
    get_task_spec(name)  # unknown names fail before any file or network access
    folder = resolve_data_dir(data_dir)
    return _load_task_cached(name, folder, _file_states(name, folder))


def split_indices(n: int, train_size: int | None, val_size: int, seed: int, task: str = "") -> tuple[list[int], list[int]]:
    """(train, validation) positions into a training split of `n` examples, as `split_for_run` takes them."""
    if val_size < 1:
        raise ValueError(f"val_size must be >= 1, got {val_size}")
    if train_size is not None and train_size < 1:
        raise ValueError(f"train_size must be >= 1 or None (all the rest), got {train_size}")
    needed = val_size + (train_size if train_size is not None else 1)
    if needed > n:
        fix = f"lower train_size (at most {n - val_size})" if n > val_size else f"lower val_size (below {n})"
        raise ValueError(
            f"train_size={train_size} + val_size={val_size} needs {needed} examples (train_size=None needs "
            f"at least 1 left for training), but the {task} training data has only {n}; {fix}"
        )
    order = list(range(n))
    random.Random(seed).shuffle(order)
    end = val_size + train_size if train_size is not None else n
    return order[val_size:end], order[:val_size]


def split_for_run(data: TaskData, train_size: int | None, val_size: int, seed: int) -> RunSplits:
    """Shuffle train with random.Random(seed); first val_size -> validation, next train_size (None: rest) -> train.

    The test set is returned untouched. ValueError if val_size < 1, train_size < 1, or the two
    together exceed len(data.train).
    """
    train, validation = split_indices(len(data.train), train_size, val_size, seed, data.spec.name)
    return RunSplits(train=[data.train[i] for i in train], validation=[data.train[i] for i in validation],
                     test=data.test)


def load_wikitext(split: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """WikiText-2 `validation` or `test` paragraphs, section headings dropped.

    Locally this is the tokenised v1 text (`<unk>`, `@-@`); the hub path loads wikitext-2-raw-v1.
    """
    if split not in WIKITEXT_FILES:
        raise ValueError(f"unknown WikiText split {split!r}; allowed: {', '.join(WIKITEXT_FILES)}")
    folder = resolve_data_dir(data_dir)
    if folder is None:
        return load_wikitext_from_hub(split)
    return readers.read_wikitext(_require(folder, WIKITEXT_FILES[split]))


def wikitext_fingerprint(data_dir: str | os.PathLike | None = None) -> str:
    """The fingerprint of both WikiText splits (`repro.data.fingerprint.lines_fingerprint`)."""
    return lines_fingerprint([lines_fingerprint(load_wikitext(split, data_dir)) for split in WIKITEXT_FILES])
