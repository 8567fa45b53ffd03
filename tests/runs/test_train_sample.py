"""The training split is scored on a fixed sample, its first min(TRAIN_SAMPLE, n) examples: a run
records how many, and the generalisation gap estimated from the sample is within one standard
error of the gap from the whole split."""
from __future__ import annotations

import hashlib
import math

import pytest

import repro.training.evaluation as evaluation
from repro.data import split_indices
from repro.runs.config import RunConfig
from repro.runs.run import Workspace, _model_with_decoder_first, _prepare, run_one
from repro.training.evaluation import TRAIN_SAMPLE, evaluate, run_scores, train_sample_size

TINY = dict(model="tiny-random", epochs=1, train_size=24, val_size=8, max_length=32, batch_size=8)


def test_sample_size_is_the_split_up_to_the_constant():
    assert train_sample_size(24) == 24
    assert train_sample_size(TRAIN_SAMPLE) == TRAIN_SAMPLE
    assert train_sample_size(67_000) == TRAIN_SAMPLE


def test_a_run_scores_the_first_examples_of_its_training_split(tmp_path, study_data, monkeypatch):
    config = RunConfig(task="sst2", selector="bitfit", learning_rate=1e-3, **TINY)
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    assert run_one(config, workspace).metrics["train_examples"] == 24  # a split smaller than the sample
    monkeypatch.setattr(evaluation, "TRAIN_SAMPLE", 10)
    data = _prepare(config, workspace)
    model, _ = _model_with_decoder_first(config, data, workspace)
    scores = run_scores(model, data)
    first = evaluate(model, data.splits.train[:10], data.train[:10], data.spec, pad_token_id=data.pad_token_id)
    assert scores["train_examples"] == 10 and scores["train"] == first
    assert scores["test"] == evaluate(model, data.splits.test, data.test, data.spec, pad_token_id=data.pad_token_id)


def _correct(position: int, data_size: int) -> bool:
    """A deterministic predictor whose errors drift with the position in the task's file: wrong on
    every example of the last fifth, and on a hashed fifth of the others."""
    hashed = int(hashlib.sha256(str(position).encode()).hexdigest(), 16) % 5 == 0
    return position < 0.8 * data_size and not hashed


def _sample_and_full(train: list[int], data_size: int) -> tuple[float, float, float]:
    """(sample score, whole-split score, standard error of the sample's score: a proportion of n
    drawn without replacement from the split's N, with the finite-population correction)."""
    right = [_correct(i, data_size) for i in train]
    n, N = train_sample_size(len(train)), len(train)
    full, sample = sum(right) / N, sum(right[:n]) / n
    return sample, full, math.sqrt(full * (1 - full) / n * (N - n) / (N - 1))


@pytest.mark.parametrize("data_size,train_size", [(6000, 4000), (20_000, None)])
def test_gap_from_the_sample_is_within_its_standard_error_of_the_full_one(data_size, train_size):
    test_score = 0.7  # the same test score enters both gaps: they differ by the train scores only
    train, _ = split_indices(data_size, train_size, 500, seed=0)
    sample, full, se = _sample_and_full(train, data_size)
    assert abs((test_score - sample) - (test_score - full)) <= se
    # over seeds the sample is unbiased: most differences within one SE (68% expected), mean near 0
    differences = [(lambda s, f, e: (s - f) / e)(*_sample_and_full(split_indices(data_size, train_size, 500, seed)[0],
                                                                     data_size)) for seed in range(40)]
    assert sum(abs(d) <= 1 for d in differences) >= 0.5 * len(differences)
    assert abs(sum(differences) / len(differences)) <= 3 / math.sqrt(len(differences))
    # the check has power: the first examples of the task's file (unshuffled) are far off
    file_order = sorted(train)
    sample_in_file_order = sum(_correct(i, data_size) for i in file_order[:TRAIN_SAMPLE]) / TRAIN_SAMPLE
    assert abs(sample_in_file_order - full) > 5 * se
