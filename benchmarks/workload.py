"""The benchmark's batches: SST-2 training examples tokenised by repro, or synthetic tokens."""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch

from repro.data import EncodedExample, collate, encode, iterate_batches, load_task
from repro.models import load_tokenizer

MAX_LENGTH = 128  # as the cpu profile's RunConfig


@dataclass(frozen=True)
class Workload:
    encoded: list[EncodedExample]  # in the order sampled
    batches: list[dict[str, torch.Tensor]]  # the trainer's batching (grouped by length), collated, on the device
    pad_token_id: int
    source: str  # where the examples came from, for the report

    @property
    def mean_length(self) -> float:
        return sum(len(e.input_ids) for e in self.encoded) / len(self.encoded)


def _sst2(data_dir: Path, tokenizer, n_examples: int) -> tuple[list[EncodedExample], str] | None:
    """`n_examples` random SST-2 training examples, tokenised; None when the data is not there."""
    try:
        data = load_task("sst2", data_dir)
    except FileNotFoundError:
        return None
    chosen = random.Random(0).sample(range(len(data.train)), min(n_examples, len(data.train)))
    encoded = encode([data.train[i] for i in chosen], data.spec, tokenizer, MAX_LENGTH)
    return encoded, f"SST-2 train (sst2/train.tsv of the data folder), {len(encoded)} random examples"


def _synthetic(tokenizer, n_examples: int) -> tuple[list[EncodedExample], str]:
    """Random tokens between [CLS] and [SEP], 4 to 24 tokens long (SST-2 train averages about 14)."""
    rng = random.Random(0)
    low, high = 1000, tokenizer.vocab_size - 1
    encoded = [EncodedExample([tokenizer.cls_token_id] + [rng.randint(low, high) for _ in range(rng.randint(2, 22))]
                              + [tokenizer.sep_token_id], rng.randint(0, 1)) for _ in range(n_examples)]
    return encoded, f"SYNTHETIC token batches ({n_examples} examples, 4-24 tokens): SST-2 data not found"


def load_workload(model_name: str, data_dir: Path, n_examples: int, batch_size: int, device: str) -> Workload:
    """Examples from `data_dir` (synthetic when its SST-2 is missing), batched as the trainer does."""
    tokenizer = load_tokenizer(model_name)
    encoded, source = _sst2(data_dir, tokenizer, n_examples) or _synthetic(tokenizer, n_examples)
    pad = tokenizer.pad_token_id
    batches = [{k: v.to(device) for k, v in collate([encoded[i] for i in indices], pad).items()}
               for indices in pipeline_batches(encoded, batch_size)]
    return Workload(encoded, batches, pad, source)


def pipeline_batches(encoded: list[EncodedExample], batch_size: int):
    """The trainer's index batches for one epoch (shuffled, grouped by length)."""
    return iterate_batches(encoded, batch_size, shuffle=True, sort_by_length=True, seed=0)


def pipeline_epoch(workload: Workload, batch_size: int, device: str) -> None:
    """One epoch of the trainer's data pipeline: iterate_batches + collate + copy to the device
    (`len(workload.batches)` batches, timed by the caller)."""
    for indices in pipeline_batches(workload.encoded, batch_size):
        batch = collate([workload.encoded[i] for i in indices], workload.pad_token_id)
        {k: v.to(device) for k, v in batch.items()}
