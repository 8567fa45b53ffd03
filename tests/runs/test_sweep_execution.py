"""The command line and the executors (serial, local pool, submitit) on grid files, end to end
on the tiny model: resumption after kill -9, failures recorded, identical reruns, an offline
dry run of every paper grid."""
from __future__ import annotations

import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import repro.data.tasks
import repro.models
import repro.runs.run
import repro.runs.sweep
from repro.cli import main
from repro.data import DATA_DIR_ENV, TASKS
from repro.runs.executors import ExecutorConfig
from repro.runs.run import Workspace
from repro.runs.grid_files import GRIDS_DIR, load_grid
from repro.runs.sweep import run_sweep

SMOKE_GRID = (f"profile: smoke\nrates: {GRIDS_DIR}/smoke/_rates.yaml\ndefaults: {{subset_sizes: [1e-3, 1e-2]}}\n"
              "studies:\n  - task: sst2\n    seeds: [0]\n    selectors: random,bitfit\n")


def write_grid(tmp_path: Path, text: str = SMOKE_GRID) -> Path:
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    return path


def test_grid_file_expands_to_the_study(tmp_path):
    grid = load_grid(write_grid(tmp_path))
    configs = grid.configs("local")
    assert grid.profile == "smoke" and len(configs) == 2 * 2 + 2  # random: 2 sizes x 2 rates; bitfit: 2 rates
    assert {c.model for c in configs} == {"tiny-random"}


def test_unknown_executor_and_bad_resources():
    with pytest.raises(ValueError, match="unknown executor 'cloud'"):
        ExecutorConfig(name="cloud")
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        ExecutorConfig(name="local", workers=0)


def test_duplicate_runs_in_a_grid_file(tmp_path, study_data, capsys):
    grid = write_grid(tmp_path, SMOKE_GRID + "  - task: sst2\n    seeds: [0]\n    selectors: random\n")
    assert main(["sweep", str(grid), "--data-dir", str(study_data), "--results-dir", str(tmp_path / "r")]) == 2
    assert "more than once" in capsys.readouterr().err


def test_unwritable_results_folder(tmp_path, study_data, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["sweep", str(write_grid(tmp_path)), "--data-dir", str(study_data), "--results-dir", str(blocker / "r")])
    assert code == 2 and "not writable" in capsys.readouterr().err


def test_dry_run_counts_and_estimates(tmp_path, study_data, capsys):
    grid, results = write_grid(tmp_path), tmp_path / "results"
    args = ["sweep", str(grid), "--data-dir", str(study_data), "--results-dir", str(results)]
    assert main(args + ["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "6 runs; compute left: 12 optimizer steps" in out  # 6 runs x ceil(24 / 16) batches x 1 epoch
    assert "6 runs to train, 0 finished, estimated" in out
    assert not (results / "runs").exists()
    assert main(["run-index", str(grid), "0", "--data-dir", str(study_data), "--results-dir", str(results)]) == 0
    assert main(args + ["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "5 runs to train, 1 finished, estimated" in out and "calibrated on 1 records" in out


@pytest.mark.parametrize("executor,selectors,runs", [
    (ExecutorConfig(name="local", workers=2), "random,bitfit", 4),  # two rates each
    (ExecutorConfig(name="slurm", cluster="local", timeout_min=10), "bitfit", 2),  # a process per run: fewer
])
def test_pool_and_submitit_run_a_grid_like_serial(tmp_path, study_data, executor, selectors, runs):
    """Identical metrics and bitwise identical tuned weights: every run sets its own threads."""
    grid = SMOKE_GRID.replace("subset_sizes: [1e-3, 1e-2]", "subset_sizes: [1e-3]")
    configs = load_grid(write_grid(tmp_path, grid.replace("random,bitfit", selectors))).configs("local")
    assert len(configs) == runs
    serial_space, parallel_space = (Workspace.create(tmp_path / name, study_data, "cpu", progress=False)
                                    for name in ("serial", executor.name))
    serial = run_sweep(configs, serial_space)
    parallel = run_sweep(configs, parallel_space, executor)
    assert [r.status for r in parallel] == ["ok"] * len(configs)
    assert [r.metrics for r in parallel] == [r.metrics for r in serial]
    for config in configs:
        weights = [space.store.weights_path(config).read_bytes() for space in (serial_space, parallel_space)]
        assert weights[0] == weights[1], config.run_id()


def test_results_command_prints_a_summary(tmp_path, study_data, capsys):
    results = tmp_path / "results"
    grid = write_grid(tmp_path)
    assert main(["sweep", str(grid), "--data-dir", str(study_data), "--results-dir", str(results)]) == 0
    assert "6 runs: ok 6, diverged 0, failed 0" in capsys.readouterr().out
    assert main(["results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "tiny-random on sst2" in out and "bitfit" in out and "random" in out


def test_sweep_killed_with_sigkill_resumes(tmp_path, study_data):
    grid = write_grid(tmp_path, SMOKE_GRID.replace("seeds: [0]", "seeds: [0, 1]"))
    results = tmp_path / "results"
    command = [sys.executable, "-m", "repro", "sweep", str(grid), "--data-dir", str(study_data),
               "--results-dir", str(results)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((results / "runs").glob("*.json"))) < 2:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = {p.name: p.stat().st_mtime_ns for p in (results / "runs").glob("*.json")}
    assert 2 <= len(before) < 12
    subprocess.run(command, check=True, capture_output=True)
    after = {p.name: p.stat().st_mtime_ns for p in (results / "runs").glob("*.json")}
    assert len(after) == 12
    assert all(after[name] == mtime for name, mtime in before.items())  # nothing finished was redone


def test_slurm_job_requeues_itself_and_skips_finished_runs(tmp_path, study_data, monkeypatch):
    import repro.runs.run
    from repro.runs.executors import SlurmRun

    workspace = Workspace.create(tmp_path / "results", study_data, "cpu", progress=False)
    config = load_grid(write_grid(tmp_path)).configs("local")[0]
    job = SlurmRun(workspace)
    requeued = job.checkpoint(config.to_dict())  # what submitit calls on preemption or timeout
    assert isinstance(requeued.function, SlurmRun) and requeued.args == (config.to_dict(),)
    first = job(config.to_dict())
    assert first.status == "ok"
    monkeypatch.setattr(repro.runs.run, "run_one", lambda *a: pytest.fail("a finished run was redone"))
    assert job(config.to_dict()).metrics == first.metrics


def refuse(*args, **kwargs):
    raise AssertionError("the dry run reached for the hub or the network")


@pytest.mark.parametrize("path", sorted((GRIDS_DIR / "paper").glob("[!_]*.yaml")), ids=lambda p: p.name)
def test_paper_dry_run_counts_offline(path, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)  # the hub's data, which must not be downloaded
    for target, name in ((socket, "getaddrinfo"), (socket, "create_connection"), (socket.socket, "connect"),
                         (repro.data.tasks, "load_task_from_hub"), (repro.models, "resolve_model_source"),
                         (repro.runs.sweep, "check_model_available")):
        monkeypatch.setattr(target, name, refuse)
    assert main(["sweep", str(path), "--dry-run", "--results-dir", str(tmp_path / "results")]) == 0
    configs = load_grid(path).configs("hub")
    steps = sum(math.ceil((TASKS[c.task].train_examples - c.val_size) / c.batch_size) * c.epochs for c in configs)
    out = capsys.readouterr().out
    assert f"{len(configs)} runs; compute left: {steps:,} optimizer steps; grids are extended at their edges" in out
    assert f"{len(configs)} runs to train, 0 finished, estimated" in out
    assert ("conll03_de" in out) == (path.stem == "task_similarity")  # not on the hub: the sweep needs --data-dir


def test_sweep_extends_edges_where_the_grid_says_so(tmp_path, study_data, monkeypatch, capsys):
    extended = []

    def run_study(study, workspace, executor, extend_edges):  # the rule itself: test_grid_extension
        extended.append((study.selectors, extend_edges))
        return study, []

    monkeypatch.setattr(repro.runs.sweep, "run_study", run_study)
    one_rate = SMOKE_GRID.replace("selectors: random,bitfit", "selectors: bitfit\n    learning_rates: [0.001]")
    args = ["--data-dir", str(study_data), "--results-dir", str(tmp_path / "r")]
    assert main(["sweep", str(write_grid(tmp_path, one_rate + "extend_edges: true\n"))] + args) == 0
    assert extended == [(("bitfit",), True)] and "1 runs: ok 1" in capsys.readouterr().out
    assert main(["sweep", str(write_grid(tmp_path, one_rate))] + args) == 0
    assert len(extended) == 1  # a grid without extend_edges is run as it is


def test_sweep_exits_non_zero_when_a_run_failed_after_finishing_the_others(tmp_path, study_data, monkeypatch, capsys):
    train_and_evaluate = repro.runs.run.train_and_evaluate

    def failing_seed_1(config, workspace):
        if config.seed == 1:
            raise RuntimeError("boom")
        return train_and_evaluate(config, workspace)

    monkeypatch.setattr(repro.runs.run, "train_and_evaluate", failing_seed_1)
    grid = write_grid(tmp_path, SMOKE_GRID.replace("seeds: [0]", "seeds: [0, 1]").replace("random,bitfit", "bitfit"))
    assert main(["sweep", str(grid), "--data-dir", str(study_data), "--results-dir", str(tmp_path / "r")]) == 1
    out, err = capsys.readouterr()
    assert "4 runs: ok 2, diverged 0, failed 2" in out  # the seed-0 runs finished
    assert re.findall(r"failed: run [0-9a-f]{16} \(bitfit, sst2, lr 0\.0\d, seed 1\): RuntimeError: boom", err) \
        and err.count("failed: run") == 2


def test_a_sweep_at_learning_rate_1e3_reports_diverged_runs(tmp_path, study_data, capsys):
    grid = write_grid(tmp_path, SMOKE_GRID.replace("selectors: random,bitfit",
                                                   "selectors: random,full\n    epochs: 4\n    batch_size: 8\n"
                                                   "    learning_rates: [1000.0]"))
    assert main(["sweep", str(grid), "--data-dir", str(study_data), "--results-dir", str(tmp_path / "r")]) == 0
    out, _ = capsys.readouterr()
    assert "3 runs: ok 0, diverged 3, failed 0" in out
