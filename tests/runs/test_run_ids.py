"""Run ids are the names of stored results: these configs must keep the ids they had when
results were first stored (a change here orphans every stored run)."""
from __future__ import annotations

import pytest

from repro.runs.config import RunConfig

PINNED = [
    ({"task": "sst2", "selector": "random", "learning_rate": 0.01, "subset_size": 0.001}, "e9ec8cca303cfc57"),
    ({"task": "sst2", "selector": "bitfit", "learning_rate": 0.003, "seed": 1}, "da659d1d53e704ac"),
    ({"task": "qnli", "selector": "full", "learning_rate": 0.0001, "train_size": 2000, "val_size": 300,
      "max_length": 64, "epochs": 1}, "3b73c9c91a72e5ed"),
    ({"task": "conll03", "selector": "largest_downstream_sqgrad", "learning_rate": 0.001, "subset_size": 0.0001,
      "fisher_samples": 256}, "de94e86af7a69dca"),
    ({"task": "trec6", "selector": "combined", "learning_rate": 0.001, "pretrain_fisher_samples": 128},
     "320d30a46119ce41"),
    ({"task": "sst2", "selector": "lora", "lora_rank": 16, "learning_rate": 0.003}, "9acf049339c9c5d3"),
    ({"task": "sst2", "selector": "full", "regularization": "l1", "regularization_strength": 0.01,
      "learning_rate": 0.0001}, "457b4c72fcd40645"),
    ({"task": "sst2", "selector": "full", "regularization": "l2", "regularization_strength": 0.1,
      "learning_rate": 0.0001}, "1e90faf92675cdd4"),
    ({"task": "sst2", "selector": "diff_pruning", "learning_rate": 0.001, "pruning_l1": 0.001,
      "pruning_learning_rate": 0.0001}, "e436450e2322a370"),
    ({"task": "sst2", "selector": "diff_pruning_no_retrain", "learning_rate": 0.0001, "pruning_l1": 0.001},
     "4171fe7fad102f9c"),
    ({"task": "trec6", "selector": "full", "learning_rate": 0.0001, "init_from": "0123456789abcdef"},
     "77a858e326067320"),
    ({"task": "sst2", "selector": "random", "learning_rate": 2e-05, "model": "roberta-base", "data_source": "hub",
      "max_length": 256}, "c7fa14faa9f14b22"),
]


@pytest.mark.parametrize("fields, run_id", PINNED, ids=[run_id for _, run_id in PINNED])
def test_pinned_run_ids_are_unchanged(fields, run_id):
    assert RunConfig(**fields).run_id() == run_id
