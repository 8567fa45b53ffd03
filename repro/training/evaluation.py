"""Predictions and task scores of a task model, and a run's scores on its splits."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import torch

from repro.data.encoding import collate, iterate_batches, word_predictions
from repro.training.metrics import score
from repro.models import TaskModel

if TYPE_CHECKING:
    from repro.runs.run import PreparedData

# The training split is scored on its first min(TRAIN_SAMPLE, n) examples, for the generalisation gap
# (test minus train score). A run's training split is a seeded uniform random subset of the task's
# training data in shuffled order (`repro.data.split_indices`), so its first examples are a uniform
# random sample of it; the sample's score is within one standard error of the whole split's in
# tests/runs/test_train_sample.py. Inference costs per token: on the cpu profile the whole training split
# (2,000 examples) was half of the tokens a run scored, with SST-2's validation and test splits.
TRAIN_SAMPLE = 1000
# Examples per inference batch (length-sorted): 16 to 64 cost the same per example on one CPU thread,
# 128 about 20% more (benchmarks/run_phases.py measures it: `--batch-sizes`)
EVALUATION_BATCH = 64


@torch.no_grad()
def predict(model: TaskModel, encoded: list, *, pad_token_id: int, device: str = "cpu",
            batch_size: int = EVALUATION_BATCH) -> list:
    """Per example: the predicted label (sequence tasks), or the predicted tag of every
    sub-token (token tasks). Batches are length-sorted."""
    model.to(device).eval()
    predictions: list = [None] * len(encoded)
    for indices in iterate_batches(encoded, batch_size, shuffle=False, sort_by_length=True):
        batch = collate([encoded[i] for i in indices], pad_token_id)
        batch.pop("labels")
        logits = model(**{k: v.to(device) for k, v in batch.items()}).argmax(-1).cpu()
        for row, i in enumerate(indices):
            if model.kind == "sequence":
                predictions[i] = int(logits[row])
            else:
                predictions[i] = logits[row][: len(encoded[i].input_ids)].tolist()
    return predictions


def evaluate(model: TaskModel, examples: list, encoded: list, spec, *, pad_token_id: int,
             device: str = "cpu", batch_size: int = EVALUATION_BATCH) -> float:
    """The task's score (accuracy or entity F1) on `examples`.

    Token tasks score whole sentences: words cut off by truncation count as predicted "O".
    """
    predictions = predict(model, encoded, pad_token_id=pad_token_id, device=device, batch_size=batch_size)
    if spec.kind == "sequence":
        return score(spec, predictions, [e.label for e in examples])
    outside = spec.label_names.index("O")
    words = [word_predictions(p, enc, len(e.tags), fill=outside) for p, enc, e in zip(predictions, encoded, examples)]
    return score(spec, words, [list(e.tags) for e in examples])


def train_sample_size(train_examples: int) -> int:
    """How many examples of a training split of `train_examples` are scored: min(TRAIN_SAMPLE, n)."""
    return min(TRAIN_SAMPLE, train_examples)


def run_scores(model: TaskModel, data: PreparedData, *, device: str = "cpu",
               seconds: dict | None = None) -> dict:
    """A run's scores: "validation" and "test" on the whole splits, "train" on the first
    `train_sample_size` examples of its training split, and "train_examples", how many that was.
    `seconds`, when given, receives each split's wall seconds."""
    n = train_sample_size(len(data.train))
    scored = {"train": (data.splits.train[:n], data.train[:n]), "validation": (data.splits.validation, data.validation),
              "test": (data.splits.test, data.test)}
    scores, seconds = {}, {} if seconds is None else seconds
    for split, (examples, encoded) in scored.items():
        started = time.perf_counter()
        scores[split] = evaluate(model, examples, encoded, data.spec, pad_token_id=data.pad_token_id, device=device)
        seconds[split] = time.perf_counter() - started
    return {**scores, "train_examples": n}
