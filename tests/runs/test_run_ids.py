"""Run ids are the names of stored results: these configs must keep their ids (a change here
orphans every stored run). Each config carries two ids: the one the code gave before results
version 2 (`legacy_id`: the fields are the same as then) and today's (`RunConfig.run_id`, which
hashes `threads` and `RESULTS_VERSION` too). Bumping RESULTS_VERSION changes the second on purpose."""
from __future__ import annotations

import pytest

from legacy_ids import legacy_id
from repro.runs.config import RESULTS_VERSION, RunConfig

PINNED = [
    ({"task": "sst2", "selector": "random", "learning_rate": 0.01, "subset_size": 0.001}, "e9ec8cca303cfc57", "ad98d95f8dd559b8"),
    ({"task": "sst2", "selector": "bitfit", "learning_rate": 0.003, "seed": 1}, "da659d1d53e704ac", "bef0b268c526e4c1"),
    ({"task": "qnli", "selector": "full", "learning_rate": 0.0001, "train_size": 2000, "val_size": 300,
      "max_length": 64, "epochs": 1}, "3b73c9c91a72e5ed", "c75ea4cd362be9b6"),
    ({"task": "conll03", "selector": "largest_downstream_sqgrad", "learning_rate": 0.001, "subset_size": 0.0001,
      "fisher_samples": 256}, "de94e86af7a69dca", "2907dc0325ccab39"),
    ({"task": "trec6", "selector": "combined", "learning_rate": 0.001, "pretrain_fisher_samples": 128},
     "320d30a46119ce41", "7d4526aafa79497b"),
    ({"task": "sst2", "selector": "lora", "lora_rank": 16, "learning_rate": 0.003}, "9acf049339c9c5d3", "92287df8f55c2418"),
    ({"task": "sst2", "selector": "full", "regularization": "l1", "regularization_strength": 0.01,
      "learning_rate": 0.0001}, "457b4c72fcd40645", "fcf7209b075627b8"),
    ({"task": "sst2", "selector": "full", "regularization": "l2", "regularization_strength": 0.1,
      "learning_rate": 0.0001}, "1e90faf92675cdd4", "01b2c006e5d6646c"),
    ({"task": "sst2", "selector": "diff_pruning", "learning_rate": 0.001, "pruning_l1": 0.001,
      "pruning_learning_rate": 0.0001}, "e436450e2322a370", "4dc2f40e07499d73"),
    ({"task": "sst2", "selector": "diff_pruning_no_retrain", "learning_rate": 0.0001, "pruning_l1": 0.001},
     "4171fe7fad102f9c", "fd0c2aa4a0e0656c"),
    ({"task": "trec6", "selector": "full", "learning_rate": 0.0001, "init_from": "0123456789abcdef"},
     "77a858e326067320", "c2c7be6e2449a822"),
    ({"task": "sst2", "selector": "random", "learning_rate": 2e-05, "model": "roberta-base", "data_source": "hub",
      "max_length": 256}, "c7fa14faa9f14b22", "a4d71c31ae3653ac"),
]


@pytest.mark.parametrize("fields, old_id, run_id", PINNED, ids=[run_id for *_, run_id in PINNED])
def test_pinned_run_ids_are_unchanged(fields, old_id, run_id):
    config = RunConfig(**fields)
    assert legacy_id(config) == old_id
    assert (RESULTS_VERSION, config.run_id()) == (2, run_id)


def test_threads_and_the_results_version_are_part_of_the_identity(monkeypatch):
    config = RunConfig(**PINNED[0][0])
    assert RunConfig(**PINNED[0][0], threads=2).run_id() != config.run_id()
    assert RunConfig(**PINNED[0][0], threads=2).decoder_key() != config.decoder_key()
    monkeypatch.setattr("repro.runs.config.RESULTS_VERSION", 3)
    assert config.run_id() != PINNED[0][2]


def test_a_configs_run_id_is_computed_once_and_stays_out_of_its_fields():
    import pickle
    from dataclasses import replace

    config = RunConfig(**PINNED[0][0])
    assert config.run_id() == config.run_id() == PINNED[0][2]
    assert config == RunConfig(**PINNED[0][0]) and "_run_id" not in config.to_dict()
    assert pickle.loads(pickle.dumps(config)).run_id() == PINNED[0][2]
    assert replace(config, seed=config.seed + 1).run_id() != PINNED[0][2]
