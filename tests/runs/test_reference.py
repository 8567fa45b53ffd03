"""The reference store: read after the results folder and never changed; a workspace that does not
train leaves missing runs pending; `reference export` copies records in and never overwrites one."""
from __future__ import annotations

import json
import os
import pickle
import time
from dataclasses import replace

import pytest

from repro.cli import main
from repro.generality.mlm_probe import ProbeStore
from repro.runs.config import RunConfig
from repro.runs.learning_rate import summarise
from repro.runs.reference import export, index, remade_runs
from repro.runs.run import Workspace, run_one
from repro.runs.store import NotComputed, ResultStore, RunResult, cpu_model
from repro.runs.sweep import PendingRuns, plan_sweep, run_sweep

TINY = dict(model="tiny-random", epochs=1, train_size=24, val_size=8, max_length=32, batch_size=8)


def config(**changes) -> RunConfig:
    return RunConfig(**{**dict(task="sst2", selector="random", learning_rate=0.05, subset_size=0.01, **TINY), **changes})


def snapshot(folder) -> dict[str, bytes]:
    """Every file under `folder` and its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def made(tmp_path, study_data):
    """A results folder with two finished runs and a failed one, exported into a reference."""
    workspace = Workspace.create(tmp_path / "made", study_data, device="cpu", progress=False)
    for cfg in (config(), config(seed=1)):
        assert run_one(cfg, workspace).status == "ok"
    workspace.store.write(RunResult(config(seed=2), "failed", reason="boom"))
    export(tmp_path / "made", tmp_path / "reference")
    return tmp_path / "reference"


def test_export_copies_records_only_and_marks_failures(tmp_path, made):
    files = snapshot(made)
    assert sorted(files) == sorted([f"runs/{config().run_id()}.json", f"runs/{config(seed=1).run_id()}.json",
                                    f"failed/{config(seed=2).run_id()}.json", "INDEX.json"])  # no weights, caches
    assert files[f"runs/{config().run_id()}.json"] == (tmp_path / "made" / "runs" / f"{config().run_id()}.json").read_bytes()
    counts = json.loads(files["INDEX.json"])
    assert (counts["runs"], counts["status"], counts["failed_marked"]) == (2, {"ok": 2}, 1)
    record = json.loads(files[f"runs/{config().run_id()}.json"])
    assert {"config", "metrics", "timings", "environment", "data_fingerprint"} <= set(record)
    assert record["environment"]["torch"] and "git_commit" in record["environment"]
    assert record["environment"]["cpu"] == cpu_model() != ""  # float results may differ between CPU models


def test_export_skips_identical_records_and_refuses_to_overwrite_a_differing_one(tmp_path, made, study_data):
    again = export(tmp_path / "made", made)
    assert len(again.identical) == 2 and not again.copied
    other = ResultStore(tmp_path / "other")
    other.write(RunResult(config(), "ok", {"validation": 0.1, "test": 0.1}))  # same run, other numbers
    other.write(RunResult(config(seed=5), "ok", {"validation": 0.5, "test": 0.5}))
    before = snapshot(made)
    with pytest.raises(ValueError, match=f"never overwritten.*{config().run_id()}"):
        export(tmp_path / "other", made)
    assert snapshot(made) == before  # nothing copied, not even the new run
    assert main(["reference", "export", str(tmp_path / "other"), "--to", str(made)]) == 2


def test_export_skips_a_run_re_made_with_the_reference_result_and_refuses_other_metrics(tmp_path, made):
    stored = ResultStore(made).load_by_id(config().run_id())
    again = ResultStore(tmp_path / "again")  # the run re-made (for its weights): other timings and commit
    again.write(replace(stored, timings={"total_s": 1.0}, environment={"git_commit": "another"}))
    report = export(tmp_path / "again", made)
    assert report.reproduced == [f"runs/{config().run_id()}.json"] and not report.copied
    assert ResultStore(made).load_by_id(config().run_id()).timings == stored.timings  # the reference's record stays
    other = ResultStore(tmp_path / "other")
    other.write(replace(stored, metrics={**stored.metrics, "test": stored.metrics["test"] + 0.5}))
    with pytest.raises(ValueError, match="never overwritten"):
        export(tmp_path / "other", made)
    extra = ResultStore(tmp_path / "extra")  # a metric only newer code records is not a difference
    extra.write(replace(stored, metrics={**stored.metrics, "test_examples": 8}))
    assert export(tmp_path / "extra", made).reproduced == [f"runs/{config().run_id()}.json"]


def test_a_run_re_made_on_another_cpu_model_with_another_result_is_kept_beside_never_over_the_reference(tmp_path, made):
    stored = ResultStore(made).load_by_id(config().run_id())
    elsewhere = {**stored.environment, "cpu": "Other CPU(R) @ 2.0GHz"}
    remade = replace(stored, metrics={**stored.metrics, "test": stored.metrics["test"] + 0.01}, environment=elsewhere)
    ResultStore(tmp_path / "remade").write(remade)
    ResultStore(tmp_path / "remade").write(RunResult(config(seed=7), "ok", {"validation": 0.5, "test": 0.5}))
    report = export(tmp_path / "remade", made)
    name = f"remade/{config().run_id()}@other-cpu-r-2-0ghz.json"
    assert report.remade == [name] and report.copied == [f"runs/{config(seed=7).run_id()}.json"]
    assert ResultStore(made).load_by_id(config().run_id()) == stored  # runs/ keeps its record
    assert remade_runs(made) == {config().run_id(): [remade]} and index(made)["remade_elsewhere"] == 1
    assert sorted(export(tmp_path / "remade", made).identical) == [name, f"runs/{config(seed=7).run_id()}.json"]

    twice = ResultStore(tmp_path / "twice")  # the same CPU model, a third result: not rounding, refused
    twice.write(replace(remade, metrics={**remade.metrics, "test": 0.0}))
    with pytest.raises(ValueError, match=f"never overwritten.*{name}"):
        export(tmp_path / "twice", made)
    other_data = ResultStore(tmp_path / "other_data")  # another CPU model but other data: refused
    other_data.write(replace(remade, data_fingerprint={"train": "changed"}))
    with pytest.raises(ValueError, match="never overwritten"):
        export(tmp_path / "other_data", made)


def test_a_finished_record_clears_its_failure_mark(tmp_path, made):
    results = ResultStore(tmp_path / "made")
    results.write(RunResult(config(seed=2), "ok", {"validation": 0.5, "test": 0.5}))
    report = export(tmp_path / "made", made)
    assert report.failed_cleared == [f"failed/{config(seed=2).run_id()}.json"]
    assert index(made)["status"] == {"ok": 3} and index(made)["failed_marked"] == 0


def test_probe_records_are_exported_and_read_but_never_written_there(tmp_path):
    ProbeStore(tmp_path / "made").get_or_compute("mlm", {"subject": "x"}, lambda: 0.25)
    export_dir = tmp_path / "made"
    (export_dir / "runs").mkdir()
    export(export_dir, tmp_path / "reference")
    calls = []
    store = ProbeStore(tmp_path / "mine", tmp_path / "reference", compute=False)
    assert store.get_or_compute("mlm", {"subject": "x"}, lambda: calls.append(1))["value"] == 0.25
    with pytest.raises(NotComputed, match="probe mlm .*pending"):
        store.get_or_compute("mlm", {"subject": "y"}, lambda: calls.append(1))
    assert not calls and not (tmp_path / "mine").exists()
    computing = ProbeStore(tmp_path / "mine", tmp_path / "reference")
    assert computing.get_or_compute("mlm", {"subject": "y"}, lambda: 0.5)["value"] == 0.5
    assert len(list((tmp_path / "reference" / "probes" / "mlm").glob("*.json"))) == 1  # written to mine only


def test_store_reads_its_own_folder_first_then_the_reference(tmp_path, made):
    before = snapshot(made)
    store = ResultStore(tmp_path / "mine", made)
    assert store.load(config()).status == "ok" and store.locate(config().run_id())[1] == "reference"
    assert store.load(config(seed=2)) is None  # a failure mark is not a result
    store.write(RunResult(config(), "failed", reason="mine failed"))
    assert store.load(config()).status == "ok"  # a finished reference record beats an own failure
    store.write(RunResult(config(), "ok", {"validation": 0.9, "test": 0.9}))
    assert store.load(config()).metrics["test"] == 0.9  # an own finished record comes first
    frame = store.to_frame().set_index("run_id")
    assert frame.loc[config().run_id(), "source"] == "results" and frame.loc[config(seed=1).run_id(), "source"] == "reference"
    assert snapshot(made) == before


def test_a_damaged_reference_record_is_ignored_not_moved(tmp_path, made):
    path = made / "runs" / f"{config().run_id()}.json"
    path.write_text("{truncated")
    store = ResultStore(tmp_path / "mine", made)
    with pytest.warns(UserWarning, match="ignored .*read-only.*JSONDecodeError"):
        assert store.load(config()) is None
    assert path.read_text() == "{truncated" and not (tmp_path / "mine").exists()
    assert [r.config.seed for r in store.results()] == [1]


def test_a_reference_record_from_other_data_is_ignored_not_moved_and_the_run_pending(tmp_path, made, study_data):
    train = study_data / "sst2" / "train.tsv"
    train.write_text(train.read_text().replace("the film was", "the movie was"))
    os.utime(train, ns=(time.time_ns(), time.time_ns() + 10**9))
    before = snapshot(made)
    workspace = Workspace.create(tmp_path / "mine", study_data, device="cpu", progress=False, reference_dir=made,
                                 train=False)
    with pytest.warns(UserWarning, match="ignored .*data changed"):
        assert plan_sweep([config()], workspace).pending == [config()]
    assert workspace.store.load(config()) is None  # the workspace's store remembers it
    assert snapshot(made) == before and not (tmp_path / "mine" / "quarantine").exists()


def test_a_workspace_that_does_not_train_reports_missing_runs_as_pending(tmp_path, made, study_data, monkeypatch):
    import repro.runs.executors

    workspace = Workspace.create(tmp_path / "mine", study_data, device="cpu", progress=False, reference_dir=made,
                                 train=False)
    with pytest.raises(NotComputed, match=f"run {config(seed=3).run_id()} .*pending"):
        run_one(config(seed=3), workspace)
    dispatched = []
    configs = [config(), config(seed=1), config(seed=3), config(seed=4)]
    with monkeypatch.context() as patch, pytest.warns(
            PendingRuns, match=f"2 run\\(s\\) pending(.|\n)*{config(seed=3).run_id()}(.|\n)*{config(seed=4).run_id()}"):
        patch.setattr(repro.runs.executors, "run_one", lambda *a: dispatched.append(a))
        results = run_sweep(configs, workspace)
    assert [r.config.seed for r in results] == [0, 1] and not dispatched
    assert not (tmp_path / "mine" / "runs").exists()
    summary = summarise(workspace.store.to_frame(), configs)
    assert summary.iloc[0]["n_pending"] == 2 and summary["learning_rate"].isna().all()  # not chosen on 2 of 4 seeds
    trained = replace(workspace, train=True)
    assert [r.config.seed for r in run_sweep(configs[:3], trained)] == [0, 1, 3]
    assert sorted(p.stem for p in (tmp_path / "mine" / "runs").glob("*.json")) == [config(seed=3).run_id()]


def test_workspace_checks_its_reference_and_survives_pickling(tmp_path, made, study_data):
    with pytest.raises(ValueError, match="reference_dir .*not a folder"):
        Workspace.create(tmp_path / "mine", study_data, reference_dir=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="both"):
        Workspace.create(made, study_data, reference_dir=made)
    workspace = Workspace.create(tmp_path / "mine", study_data, device="cpu", reference_dir=made, train=False)
    copy = pickle.loads(pickle.dumps(workspace))
    assert copy == workspace and copy.store.load(config()).status == "ok" and not copy.train


def test_cli_results_reads_the_reference_too(tmp_path, made, capsys):
    assert main(["results", str(tmp_path / "mine")]) == 2  # an empty results folder alone: nothing to show
    assert main(["results", str(tmp_path / "mine"), "--reference", str(made)]) == 0
    assert "tiny-random on sst2" in capsys.readouterr().out


def test_export_refuses_a_folder_without_runs_and_the_reference_itself(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"results folder .*empty has no runs/ folder: nothing to export"):
        export(tmp_path / "empty", tmp_path / "reference")
    (tmp_path / "reference" / "runs").mkdir(parents=True)
    with pytest.raises(ValueError, match="results folder and reference are both"):
        export(tmp_path / "reference", tmp_path / "reference")
