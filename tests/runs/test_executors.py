"""The local executor's processes (a dead one fails only its run) and executor strings."""
from __future__ import annotations

import os
import textwrap

import pytest

from repro.cli import main
from repro.runs.executors import ExecutorConfig, executor_config, parse_executor
from repro.runs.grid_files import GRIDS_DIR, load_grid
from repro.runs.profiles import SLURM_RESOURCES
from repro.runs.run import Workspace
from repro.runs.sweep import run_sweep

GRID = (f"profile: smoke\nrates: {GRIDS_DIR}/smoke/_rates.yaml\ndefaults: {{subset_sizes: [1e-3]}}\n"
        "studies:\n  - task: sst2\n    seeds: [0]\n    selectors: random,bitfit\n")

# Started by every Python process while its folder is on PYTHONPATH: the run named by
# KILL_RUN_ID kills its own process before training, as the kernel's OOM killer would.
KILLER = textwrap.dedent("""
    import os
    import signal

    import repro.runs.run

    train_and_evaluate = repro.runs.run.train_and_evaluate


    def killing(config, workspace):
        if config.run_id() == os.environ["KILL_RUN_ID"]:
            os.kill(os.getpid(), signal.SIGKILL)
        return train_and_evaluate(config, workspace)


    repro.runs.run.train_and_evaluate = killing
""")


def test_a_dead_worker_fails_only_the_run_it_held(tmp_path, study_data, monkeypatch):
    (tmp_path / "grid.yaml").write_text(GRID)
    configs = load_grid(tmp_path / "grid.yaml").configs("local")
    assert len(configs) == 4
    victim = configs[1]
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(KILLER)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path / "hook"),
                                                                   os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("KILL_RUN_ID", victim.run_id())
    workspace = Workspace.create(tmp_path / "results", study_data, "cpu", progress=False)
    results = run_sweep(configs, workspace, ExecutorConfig(name="local", workers=2))
    assert [r.status for r in results] == ["ok", "failed", "ok", "ok"]
    assert results[1].reason == ("the worker process running it died (killed by SIGKILL: out of memory, or killed "
                                 "by hand); the next sweep runs it again")
    monkeypatch.delenv("KILL_RUN_ID")
    again = run_sweep(configs, workspace)  # serial, in this process: the hook is not loaded here
    assert [r.status for r in again] == ["ok"] * 4
    assert [r.metrics for i, r in enumerate(again) if i != 1] == [r.metrics for i, r in enumerate(results) if i != 1]


@pytest.mark.parametrize("spec,name,settings", [
    ("serial", "serial", {}),
    ("local", "local", {}),
    (" local:workers=4 ", "local", {"workers": 4}),
    ("slurm:partition=gpu, cpus=4,mem_gb=16,gpus=1", "slurm",
     {"slurm_partition": "gpu", "cpus_per_job": 4, "mem_gb": 16, "gpus_per_job": 1}),
    ("slurm:gpus=0,at_once=8,timeout_min=30,", "slurm", {"gpus_per_job": 0, "array_parallelism": 8, "timeout_min": 30}),
])
def test_executor_strings(spec, name, settings):
    assert parse_executor(spec) == (name, settings)


@pytest.mark.parametrize("spec,match", [
    ("cloud", r"unknown executor 'cloud' in 'cloud'; available: serial, local, slurm"),
    ("serial:workers=2", r"unknown setting 'workers' for serial; allowed: none"),
    ("local:threads=2", r"unknown setting 'threads' for local; allowed: workers=\.\.\."),
    ("slurm:cpu=4", r"unknown setting 'cpu' for slurm; allowed: partition=\.\.\., cpus=\.\.\., mem_gb"),
    ("slurm:cpus=four", r"'slurm:cpus=four': cpus='four' must be a whole number"),
    ("slurm:mem_gb=0", r"mem_gb must be >= 1, got 0"),
    ("slurm:gpus=-1", r"gpus must be >= 0, got -1"),
    ("slurm:partition", r"'partition' must be given once, as partition=VALUE"),
    ("slurm:cpus=2,cpus=4", r"'cpus' must be given once"),
])
def test_bad_executor_strings(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_executor(spec)


def test_executor_config_from_a_string_and_the_profile():
    executor = executor_config("slurm:partition=gpu,cpus=8", "paper")
    assert (executor.slurm_partition, executor.cpus_per_job, executor.mem_gb, executor.gpus_per_job) == \
           ("gpu", 8, SLURM_RESOURCES["paper"]["mem_gb"], SLURM_RESOURCES["paper"]["gpus_per_job"])
    assert executor_config("local:workers=3", "smoke").describe() == "local: 3 processes"
    assert executor_config("slurm", "smoke", cpus_per_job=None).cpus_per_job == SLURM_RESOURCES["smoke"]["cpus_per_job"]
    with pytest.raises(ValueError, match=r"\['cpus_per_job'\] given twice: in 'slurm:cpus=2' and on their own"):
        executor_config("slurm:cpus=2", "smoke", cpus_per_job=4)


def test_the_command_line_takes_an_executor_string(tmp_path, study_data, capsys):
    (tmp_path / "grid.yaml").write_text(GRID)
    sweep = ["sweep", str(tmp_path / "grid.yaml"), "--dry-run", "--data-dir", str(study_data),
             "--results-dir", str(tmp_path / "results")]
    assert main(sweep + ["--executor", "local:workers=3"]) == 0
    assert main(sweep + ["--executor", "slurm:cpu=2"]) == 2
    assert "unknown setting 'cpu' for slurm" in capsys.readouterr().err
    assert main(sweep + ["--executor", "local:workers=3", "--workers", "2"]) == 2
    assert "['workers'] given twice" in capsys.readouterr().err
