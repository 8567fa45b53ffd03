"""Tokenised tasks cached on disk per (task data, tokenizer, max length).

A sweep of a thousand runs tokenises each task once: the full train and test splits are
encoded, saved atomically under `<cache_dir>/tokens/`, and every run picks its examples by
position. The key holds the data's fingerprint (`TaskData.fingerprint`, a hash of the parsed
examples), so a data file edited in place gets a new cache entry instead of a stale one.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from repro.data.encoding import EncodedExample, check_tokenizer, encode
from repro.data.schema import TaskData
from repro.files import atomic_target, read_or_set_aside

FORMAT = 1


def cache_key(data: TaskData, tokenizer_name: str, max_length: int) -> str:
    fields = {"task": data.spec.name, "data": data.fingerprint, "tokenizer": tokenizer_name,
              "max_length": max_length, "format": FORMAT}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def _pack(examples: list[EncodedExample]) -> list[tuple]:
    return [(e.input_ids, e.label, e.token_type_ids, e.word_ids) for e in examples]


def _unpack(rows: list[tuple]) -> list[EncodedExample]:
    return [EncodedExample(list(ids), label, types, words) for ids, label, types, words in rows]


def _read(path: Path) -> tuple[list[EncodedExample], list[EncodedExample]]:
    stored = torch.load(path, weights_only=True)
    return _unpack(stored["train"]), _unpack(stored["test"])


def encoded_task(data: TaskData, tokenizer, tokenizer_name: str, max_length: int,
                 cache_dir: Path | None) -> tuple[list[EncodedExample], list[EncodedExample]]:
    """(train, test) encodings of a whole task, read from the cache or encoded and cached; a
    cache file that cannot be read is set aside (`repro.files.read_or_set_aside`) and the task
    encoded again. A tokenizer that loses the text is refused first (`check_tokenizer`)."""
    check_tokenizer(data.train, tokenizer, tokenizer_name, data.spec.name)
    path = None if cache_dir is None else cache_dir / "tokens" / f"{data.spec.name}-{cache_key(data, tokenizer_name, max_length)}.pt"
    cached = None if path is None else read_or_set_aside(path, _read)
    if cached is not None:
        return cached
    train = encode(data.train, data.spec, tokenizer, max_length)
    test = encode(data.test, data.spec, tokenizer, max_length)
    if path is not None:
        with atomic_target(path) as tmp:
            torch.save({"train": _pack(train), "test": _pack(test)}, tmp)
    return train, test
