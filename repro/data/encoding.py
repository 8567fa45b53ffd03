"""Tokenisation, first-sub-token label alignment, padding collate and batching.

- `encode` turns examples into `EncodedExample`s (plain lists). Token tasks put each word's tag
  on its FIRST sub-token and -100 on continuation pieces and special tokens; they need a fast
  tokenizer (`word_ids`). Words cut off by truncation, or that tokenise to nothing (e.g. U+200B),
  get no label, so a sub-token-level evaluation scores only surviving words. To score full
  sentences, map predictions back with `word_predictions`, which fills missing words with a tag
  (default 0 = "O") so their gold entities count as missed.
- `collate` right-pads a batch into tensors: input_ids, attention_mask, token_type_ids (when the
  tokenizer produced them), labels (shape [B] for sequence tasks, [B, L] padded with -100 for token tasks).
- `iterate_batches(encoded, batch_size, *, shuffle, seed=0, sort_by_length=False)` yields lists of
  integer INDICES into `encoded`; callers gather `[encoded[i] for i in idx]` and use the indices to
  map predictions back to examples. shuffle=True: a random.Random(seed) permutation (same seed, same
  order). sort_by_length=True (evaluation): indices ordered by decreasing length, to cut padding.
  Both (training): grouped by length within windows, batch order shuffled. Otherwise the input
  order. The last batch may be smaller.
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from .schema import SequenceExample, TaskSpec, TokenExample

IGNORE_INDEX = -100


@dataclass(frozen=True)
class EncodedExample:
    """Model inputs of one example; `word_ids` (token tasks only) maps each sub-token to its word or None."""

    input_ids: list[int]
    label: int | list[int]
    token_type_ids: list[int] | None = None
    word_ids: list[int | None] | None = None


def _encode_sequence(examples: Sequence[SequenceExample], tokenizer, max_length: int) -> list[EncodedExample]:
    pairs = [ex.text_pair for ex in examples]
    if any(p is None for p in pairs) and any(p is not None for p in pairs):
        raise ValueError("examples mix single sentences and sentence pairs")
    texts = [ex.text for ex in examples]
    if pairs[0] is None:
        enc = tokenizer(texts, truncation=True, max_length=max_length)
    else:
        enc = tokenizer(texts, pairs, truncation=True, max_length=max_length)
    types = enc.get("token_type_ids")
    return [
        EncodedExample(input_ids=ids, label=ex.label, token_type_ids=types[i] if types is not None else None)
        for i, (ids, ex) in enumerate(zip(enc["input_ids"], examples))
    ]


def _encode_tokens(examples: Sequence[TokenExample], tokenizer, max_length: int) -> list[EncodedExample]:
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"token tasks need a fast tokenizer (word_ids); got {type(tokenizer).__name__}")
    enc = tokenizer([list(ex.tokens) for ex in examples], is_split_into_words=True,
                    truncation=True, max_length=max_length)
    types = enc.get("token_type_ids")
    encoded = []
    for i, ex in enumerate(examples):
        word_ids = enc.word_ids(i)
        labels, previous = [], None
        for word in word_ids:
            labels.append(ex.tags[word] if word is not None and word != previous else IGNORE_INDEX)
            previous = word
        encoded.append(EncodedExample(input_ids=enc["input_ids"][i], label=labels,
                                      token_type_ids=types[i] if types is not None else None,
                                      word_ids=list(word_ids)))
    return encoded


def encode(examples: Sequence, spec: TaskSpec, tokenizer, max_length: int) -> list[EncodedExample]:
    """Tokenise `examples` of task `spec` with truncation to `max_length` tokens (see module docstring)."""
    if not examples:
        return []
    if spec.kind == "sequence":
        return _encode_sequence(examples, tokenizer, max_length)
    if spec.kind == "token":
        return _encode_tokens(examples, tokenizer, max_length)
    raise ValueError(f"unknown task kind {spec.kind!r}; allowed: 'sequence', 'token'")


TOKENIZER_SAMPLE = 200  # training texts whose words `check_tokenizer` encodes
LOST_WORDS_LIMIT = 0.5  # a tokenizer that loses more than this share of them is refused


def _words(example) -> list[str]:
    if isinstance(example, TokenExample):
        return list(example.tokens)
    return example.text.split() + (example.text_pair.split() if example.text_pair else [])


def check_tokenizer(examples: Sequence, tokenizer, model: str, task: str, sample: int = TOKENIZER_SAMPLE) -> None:
    """Refuse a tokenizer that loses the text (a broken save: a vocabulary of special tokens
    only, a wrong vocabulary file): ValueError naming `model` and the share of the words of
    `sample` evenly spaced `examples` that encode to nothing or only to special tokens ([UNK]
    included), when more than `LOST_WORDS_LIMIT` of them do. One batched call: milliseconds."""
    chosen = list(examples[::max(1, len(examples) // sample)])[:sample]
    words = [word for example in chosen for word in _words(example)]
    if not words:
        return
    special = set(tokenizer.all_special_ids)
    encoded = tokenizer(words, add_special_tokens=False)["input_ids"]
    lost = [word for word, ids in zip(words, encoded) if all(i in special for i in ids)]
    if len(lost) > LOST_WORDS_LIMIT * len(words):
        raise ValueError(
            f"the tokenizer of model {model!r} loses the text: {len(lost) / len(words):.0%} of {len(words)} words "
            f"of {len(chosen)} {task} training texts encode to nothing or only to special/unknown tokens "
            f"(e.g. {lost[:3]}), more than {LOST_WORDS_LIMIT:.0%} allowed; is the model folder's tokenizer saved whole?")


def word_predictions(subtoken_predictions: Sequence[int], example: EncodedExample, n_words: int,
                     fill: int = 0) -> list[int]:
    """Word-level tags from per-sub-token predictions (first sub-token of each word); `fill` where a word has none."""
    if example.word_ids is None:
        raise ValueError("word_predictions needs an EncodedExample of a token task (word_ids is None)")
    if len(subtoken_predictions) < len(example.word_ids):
        raise ValueError(f"{len(subtoken_predictions)} predictions for {len(example.word_ids)} sub-tokens")
    words = [fill] * n_words
    previous = None
    for position, word in enumerate(example.word_ids):
        if word is not None and word != previous:
            words[word] = int(subtoken_predictions[position])
        previous = word
    return words


def collate(batch: Sequence[EncodedExample], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a non-empty batch into long tensors (see module docstring for the keys)."""
    if not batch:
        raise ValueError("cannot collate an empty batch")
    has_types = [ex.token_type_ids is not None for ex in batch]
    if any(has_types) and not all(has_types):
        raise ValueError("batch mixes examples with and without token_type_ids")
    width = max(len(ex.input_ids) for ex in batch)

    def pad(rows: list[list[int]], value: int) -> torch.Tensor:
        return torch.tensor([row + [value] * (width - len(row)) for row in rows], dtype=torch.long)

    out = {
        "input_ids": pad([ex.input_ids for ex in batch], pad_token_id),
        "attention_mask": pad([[1] * len(ex.input_ids) for ex in batch], 0),
    }
    if all(has_types):
        out["token_type_ids"] = pad([ex.token_type_ids for ex in batch], 0)
    if isinstance(batch[0].label, list):
        out["labels"] = pad([ex.label for ex in batch], IGNORE_INDEX)
    else:
        out["labels"] = torch.tensor([ex.label for ex in batch], dtype=torch.long)
    return out


LENGTH_GROUP_BATCHES = 50  # shuffle + sort_by_length: batches sorted together in one window


def iterate_batches(encoded: Sequence[EncodedExample], batch_size: int, *, shuffle: bool, seed: int = 0,
                    sort_by_length: bool = False) -> Iterator[list[int]]:
    """Yield lists of indices into `encoded`, `batch_size` at a time (see module docstring).

    shuffle and sort_by_length together group by length for training: a seeded shuffle,
    then each window of LENGTH_GROUP_BATCHES batches is sorted by length and cut into
    batches, and the batch order is shuffled (less padding, still random batches).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = list(range(len(encoded)))
    rng = random.Random(seed)
    if shuffle:
        rng.shuffle(order)
    if sort_by_length:
        window = batch_size * (LENGTH_GROUP_BATCHES if shuffle else len(order) or 1)
        order = [i for start in range(0, len(order), window)
                 for i in sorted(order[start:start + window], key=lambda i: -len(encoded[i].input_ids))]
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    if shuffle and sort_by_length:
        rng.shuffle(batches)
    yield from batches
