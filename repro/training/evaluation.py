"""Predictions and task scores of a task model."""
from __future__ import annotations

import torch

from repro.data.encoding import collate, iterate_batches, word_predictions
from repro.training.metrics import score
from repro.models import TaskModel


@torch.no_grad()
def predict(model: TaskModel, encoded: list, *, pad_token_id: int, device: str = "cpu",
            batch_size: int = 64) -> list:
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
             device: str = "cpu") -> float:
    """The task's score (accuracy or entity F1) on `examples`.

    Token tasks score whole sentences: words cut off by truncation count as predicted "O".
    """
    predictions = predict(model, encoded, pad_token_id=pad_token_id, device=device)
    if spec.kind == "sequence":
        return score(spec, predictions, [e.label for e in examples])
    outside = spec.label_names.index("O")
    words = [word_predictions(p, enc, len(e.tags), fill=outside) for p, enc, e in zip(predictions, encoded, examples)]
    return score(spec, words, [list(e.tags) for e in examples])
