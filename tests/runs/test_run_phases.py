"""A run's phase timings, and what each worker process loads once and reuses across runs: the
pretrained encoder and the tokenised data. Reuse changes no number."""
from __future__ import annotations

import pytest

import repro.models
import repro.runs.run
from repro.runs.config import RunConfig
from repro.runs.run import Workspace, run_one

TINY = dict(model="tiny-random", epochs=1, train_size=24, val_size=8, max_length=32, batch_size=8)
PHASES = ("prepare_s", "load_s", "decoder_s", "select_s", "train_s", "evaluate_s", "write_s")


def config(**changes) -> RunConfig:
    fields = dict(task="sst2", selector="random", learning_rate=0.05, subset_size=0.01, **TINY)
    return RunConfig(**{**fields, **changes})


@pytest.fixture
def workspace(tmp_path, study_data) -> Workspace:
    return Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)


@pytest.mark.parametrize("changes", [{}, dict(selector="largest_downstream_sqgrad"),
                                     dict(selector="lora", subset_size=None),
                                     dict(task="conll03", train_size=20, val_size=4)])
def test_phases_account_for_the_run(workspace, changes):
    result = run_one(config(**changes), workspace)
    assert result.status == "ok", result.reason
    timings = result.timings
    assert all(timings[phase] >= 0 for phase in PHASES)
    # the phases are contiguous laps of one clock: together they are the run's total (up to rounding)
    assert sum(timings[phase] for phase in PHASES) == pytest.approx(timings["total_s"], rel=1e-9, abs=1e-9)
    assert 0 <= timings["evaluate_test_s"] <= timings["evaluate_s"]


def test_a_diverged_run_records_its_time(workspace):
    result = run_one(config(learning_rate=1e3, selector="full", subset_size=None, epochs=4), workspace)
    assert result.status == "diverged"
    assert result.timings["total_s"] >= result.timings["train_s"] > 0 and "evaluate_s" not in result.timings


def test_encoder_and_data_are_loaded_once_per_process_and_reuse_changes_nothing(tmp_path, study_data):
    repro.models._pretrained_encoder.cache_clear()
    repro.runs.run._prepare_cached.cache_clear()
    repro.runs.run._encoded_cached.cache_clear()
    cold = run_one(config(), Workspace.create(tmp_path / "cold", study_data, device="cpu", progress=False))
    warm_space = Workspace.create(tmp_path / "warm", study_data, device="cpu", progress=False)
    run_one(config(selector="full", subset_size=None, learning_rate=1e-2), warm_space)  # moves every encoder entry
    encoder_hits, data_hits = (repro.models._pretrained_encoder.cache_info().hits,
                               repro.runs.run._prepare_cached.cache_info().hits)
    warm = run_one(config(), warm_space)
    assert repro.models._pretrained_encoder.cache_info().hits > encoder_hits  # the encoder came from memory
    assert repro.runs.run._prepare_cached.cache_info().hits > data_hits  # and so did the tokenised splits
    assert warm.status == cold.status == "ok"
    assert warm.metrics == cold.metrics and warm.training["loss_trace"] == cold.training["loss_trace"]


def test_a_worker_reads_a_task_s_tokens_once_whatever_the_seed(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    repro.runs.run._encoded_cached.cache_clear()
    for seed in (0, 1):
        assert run_one(config(seed=seed), workspace).status == "ok"
    info = repro.runs.run._encoded_cached.cache_info()
    assert info.misses == 1 and info.hits >= 1
