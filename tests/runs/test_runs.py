"""RunConfig identity and validation, the results store, run_one and the serial sweep."""
from __future__ import annotations

import json

import pytest

import repro.runs.executors
from repro.runs.config import RunConfig
from repro.runs.run import Workspace, run_one
from repro.runs.store import ResultStore, RunResult
from repro.runs.grid_files import section_study
from repro.runs.sweep import run_sweep

TINY = dict(model="tiny-random", epochs=1, train_size=24, val_size=8, max_length=32, batch_size=8)


def config(**changes) -> RunConfig:
    return RunConfig(**{**dict(task="sst2", selector="random", learning_rate=0.05, subset_size=0.01, **TINY), **changes})


def test_run_id_is_stable_and_covers_every_field():
    assert config().run_id() == config().run_id() and len(config().run_id()) == 16
    assert config(seed=1).run_id() != config().run_id()
    assert config(learning_rate=0.01).run_id() != config().run_id()
    assert RunConfig.from_dict(json.loads(json.dumps(config().to_dict()))) == config()


def test_decoder_key_ignores_selector_and_learning_rate():
    assert config(selector="bitfit", subset_size=None, learning_rate=1.0).decoder_key() == config().decoder_key()
    assert config(seed=3).decoder_key() != config().decoder_key()


@pytest.mark.parametrize("changes,match", [
    (dict(task="mnli"), "unknown task 'mnli'"),
    (dict(selector="magic"), "unknown selector 'magic'"),
    (dict(subset_size=0.0), r"subset size 0.0 must be a fraction in \(0, 1\]"),
    (dict(subset_size=1.5), r"subset size 1.5 must be a fraction"),
    (dict(selector="bitfit", subset_size=0.1), "fixed size"),
    (dict(learning_rate=-1.0), "learning rate -1.0"),
    (dict(data_source="ftp"), "data_source 'ftp'"),
])
def test_bad_config_is_rejected(changes, match):
    with pytest.raises(ValueError, match=match):
        config(**changes)


def test_store_writes_atomically_and_reads_back(tmp_path):
    store = ResultStore(tmp_path)
    result = RunResult(config(), "ok", {"validation": 0.5, "test": 0.4})
    path = store.write(result)
    assert path.name == f"{config().run_id()}.json"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    assert store.load(config()).metrics == {"validation": 0.5, "test": 0.4}
    assert store.is_finished(config())
    store.write(RunResult(config(seed=9), "failed", reason="boom"))
    assert not store.is_finished(config(seed=9))
    frame = store.to_frame()
    assert set(frame["status"]) == {"ok", "failed"} and "metric_test" in frame


def test_run_one_trains_and_records(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    result = run_one(config(), workspace)
    assert result.status == "ok", result.reason
    assert 0.0 <= result.metrics["test"] <= 1.0 and 0.0 <= result.metrics["validation"] <= 1.0
    assert result.selection["k"] == round(0.01 * result.selection["encoder_parameters"])
    assert result.environment["torch"] and not result.timings["decoder_cached"]
    again = run_one(config(selector="bitfit", subset_size=None), workspace)
    assert again.timings["decoder_cached"]  # one decoder per (model, task, seed, data)
    assert workspace.store.load(config()).metrics == result.metrics


def test_run_one_token_task(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    result = run_one(config(task="conll03", val_size=4, train_size=20), workspace)
    assert result.status == "ok", result.reason
    assert 0.0 <= result.metrics["test"] <= 1.0


def test_same_config_gives_same_metrics(tmp_path, study_data):
    first = run_one(config(), Workspace.create(tmp_path / "a", study_data, device="cpu", progress=False))
    second = run_one(config(), Workspace.create(tmp_path / "b", study_data, device="cpu", progress=False))
    assert first.metrics == second.metrics


def test_diverged_run_is_recorded(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    result = run_one(config(learning_rate=1e30, selector="full", subset_size=None), workspace)
    assert result.status == "diverged" and "non-finite" in result.reason


@pytest.mark.parametrize("selector, subset_size", [("full", None), ("random", 0.01)])
def test_a_finite_blow_up_at_learning_rate_1e3_is_diverged_with_the_rule_recorded(tmp_path, study_data, selector,
                                                                                    subset_size):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    result = run_one(config(learning_rate=1e3, selector=selector, subset_size=subset_size, epochs=4), workspace)
    assert result.status == "diverged" and "first step" in result.reason, result.reason
    assert result.training["divergence"]["ratio"] > result.training["divergence"]["factor"] == 1.5
    assert len(result.training["loss_trace"]) > 0
    calm = run_one(config(learning_rate=1e-3, epochs=4), workspace)
    assert calm.status == "ok" and not calm.training["divergence"]["diverged"]
    assert calm.training["divergence"]["judged"]
    assert workspace.store.load(config(learning_rate=1e-3, epochs=4)).training == calm.training
    short = run_one(config(learning_rate=1e3, selector=selector, subset_size=subset_size), workspace)
    assert short.status == "ok" and not short.training["divergence"]["judged"]  # 3 steps: not judged


def test_sweep_skips_finished_runs_and_survives_failures(tmp_path, study_data, monkeypatch):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    configs = section_study("subset_size", "smoke", "sst2", seeds=[0], selectors="random,bitfit").configs("local")
    executed = []
    real_execute = repro.runs.run.train_and_evaluate

    def flaky(cfg, ws):
        executed.append(cfg.run_id())
        if cfg.selector == "bitfit" and cfg.learning_rate == 0.1:
            raise RuntimeError("injected failure")
        return real_execute(cfg, ws)

    monkeypatch.setattr(repro.runs.run, "train_and_evaluate", flaky)
    results = run_sweep(configs, workspace)
    assert [r.status for r in results].count("failed") == 1 and len(executed) == len(configs)
    assert "injected failure" in next(r.reason for r in results if r.status == "failed")
    executed.clear()
    run_sweep(configs, workspace)
    assert len(executed) == 1  # only the failed run is retried


@pytest.mark.parametrize("problem,match", [
    ("empty", "empty grid"),
    ("duplicate", "more than once"),
    ("model", "unknown model"),
    ("data", "REPRO_DATA_DIR"),
])
def test_sweep_rejects_bad_input_before_training(tmp_path, study_data, monkeypatch, problem, match):
    called = []
    monkeypatch.setattr(repro.runs.executors, "run_one", lambda *a: called.append(a))
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    configs = {"empty": [], "duplicate": [config(), config()], "model": [config(model="no such model!")],
               "data": [config(task="qnli")]}[problem]
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        run_sweep(configs, workspace)
    assert not called


def test_unknown_executor(tmp_path, study_data):
    with pytest.raises(ValueError, match="unknown executor 'cloud'"):
        run_sweep([config()], Workspace.create(tmp_path, study_data, progress=False), executor="cloud")


def test_tokenised_task_is_cached_on_disk(tmp_path, study_data, monkeypatch):
    from repro.data import load_task
    from repro.data import token_cache
    from repro.models import load_tokenizer

    data, tokenizer = load_task("sst2", study_data), load_tokenizer("tiny-random")
    first = token_cache.encoded_task(data, tokenizer, "tiny-random", 32, tmp_path)
    assert len(list((tmp_path / "tokens").glob("sst2-*.pt"))) == 1

    def no_encoding(*args):
        raise AssertionError("encoded again instead of reading the cache")

    monkeypatch.setattr(token_cache, "encode", no_encoding)
    assert token_cache.encoded_task(data, tokenizer, "tiny-random", 32, tmp_path) == first
    with pytest.raises(AssertionError, match="encoded again"):
        token_cache.encoded_task(data, tokenizer, "tiny-random", 16, tmp_path)  # another max length, another key


def test_downstream_sqgrad_run_records_and_reuses_its_statistics(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    first = run_one(config(selector="largest_downstream_sqgrad", fisher_samples=10), workspace)
    assert first.status == "ok", first.reason
    assert first.selection["stat_downstream_samples"] == 10 and not first.selection["stat_downstream_cached"]
    assert first.selection["stat_backward_passes"] >= 1
    second = run_one(config(selector="largest_downstream_sqgrad", fisher_samples=10, learning_rate=0.01), workspace)
    assert second.selection["stat_downstream_cached"] and second.selection["k"] == first.selection["k"]
    many = run_one(config(selector="largest_downstream_sqgrad", fisher_samples=10_000, seed=1), workspace)
    assert many.selection["stat_downstream_samples"] == 24  # all of the training split


@pytest.mark.parametrize("selector", ["largest_pretrain_sqgrad", "combined"])
def test_pretraining_statistics_runs(tmp_path, study_data, selector):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    first = run_one(config(selector=selector, fisher_samples=8, pretrain_fisher_samples=6), workspace)
    assert first.status == "ok", first.reason
    assert first.selection["stat_pretraining_samples"] == 6 and not first.selection["stat_pretraining_cached"]
    other_task = run_one(config(task="conll03", selector=selector, val_size=4, train_size=20, fisher_samples=8,
                                pretrain_fisher_samples=6), workspace)
    assert other_task.selection["stat_pretraining_cached"]  # pretraining statistics do not depend on the task


def test_fisher_samples_must_be_positive():
    with pytest.raises(ValueError, match=r"fisher_samples \(N\) 0 must be >= 1"):
        config(fisher_samples=0)
    with pytest.raises(ValueError, match=r"pretrain_fisher_samples \(N\) -1 must be >= 1"):
        config(pretrain_fisher_samples=-1)
