"""`--executor slurm` on a real one-node Slurm cluster (slurmctld, slurmd, munged) that
scripts/slurm_local.sh starts in a temporary folder, on 127.0.0.1 only, and stops afterwards:
runs match the serial executor's, a requeued job loses nothing and redoes no finished run, a
cancelled array is reported and resumes, and requests the node cannot hold are refused or ended.

Needs Debian's slurm-wlm and munge (skipped without them) and root (slurmd starts jobs as their user).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from repro.cli import main
from repro.runs import slurm
from repro.runs.grid_files import load_grid
from repro.runs.run import Workspace
from repro.runs.sweep import run_sweep

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "slurm_local.sh"
GRID = ("profile: smoke\nstudies:\n  - task: sst2\n    seeds: [0, 1]\n    selectors: bitfit\n"
        "    learning_rates: [0.01, 0.1]\n")  # 4 runs


def _free_port_pair() -> int:
    """A port p on 127.0.0.1 with p and p + 1 free (slurmctld and slurmd)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two consecutive free ports on 127.0.0.1")


@pytest.fixture(scope="module")
def cluster():
    """SLURM_CONF of a one-node cluster started for these tests; its daemons are stopped and its
    folder removed afterwards, whatever happens."""
    missing = [name for name in ("slurmctld", "slurmd", "munged", "mungekey", "sbatch") if shutil.which(name) is None]
    if missing:
        pytest.skip(f"Slurm is not installed ({', '.join(missing)} missing): apt-get install slurm-wlm munge")
    if os.geteuid() != 0:
        pytest.skip("a local Slurm cluster needs root: slurmd starts each job as its user")
    folder = Path(tempfile.mkdtemp(prefix="repro-slurm-"))
    folder.chmod(0o755)  # munge's socket must be reachable
    env = {**os.environ, "REPRO_SLURM_DIR": str(folder), "REPRO_SLURM_PORT": str(_free_port_pair()),
           "REPRO_SLURM_NODE": "reprotest"}
    try:
        started = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=180)
        assert started.returncode == 0, f"slurm_local.sh start failed:\n{started.stderr}"
        assert started.stdout.strip() == f"export SLURM_CONF={folder}/slurm.conf"
        yield folder / "slurm.conf"
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120)
        for daemon in ("slurmd", "slurmctld", "munged"):  # in case stop could not
            pid_file = folder / f"{daemon}.pid"
            if pid_file.exists() and Path(f"/proc/{pid_file.read_text().strip()}").exists():
                os.kill(int(pid_file.read_text()), 9)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def on_cluster(cluster, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", str(cluster))
    yield cluster
    jobs = slurm.run_command(["squeue", "--noheader", "--format=%A"]).split()
    if jobs:  # a failed test leaves nothing queued for the next
        slurm.run_command(["scancel", *sorted(set(jobs))])


def squeue_tasks() -> dict[str, str]:
    """Job id -> state of every job of the (private) cluster."""
    text = slurm.run_command(["squeue", "--noheader", "--array", "--format=%i|%T"])
    return dict(line.split("|") for line in text.split())


def fresh_running_tasks(results: Path) -> list[str]:
    """Running jobs that started at most 2 s ago (still starting Python: their run cannot have
    finished) and have no result yet."""
    text = slurm.run_command(["squeue", "--noheader", "--array", "--states=RUNNING", "--format=%i|%M"])
    started = dict(line.split("|") for line in text.split())
    return [task for task, elapsed in started.items()
            if slurm.minutes(elapsed) * 60 <= 2 and not (results / "slurm" / f"{task}_0_result.pkl").exists()]


def result_times(results: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (results / "runs").glob("*.json")}


@pytest.fixture
def start_sweep():
    """Starts `python -m repro sweep GRID --executor slurm ...` in the background; any sweep
    still running when the test ends is killed."""
    processes = []

    def start(grid: Path, data: Path, results: Path) -> subprocess.Popen:
        command = [sys.executable, "-m", "repro", "sweep", str(grid), "--executor", "slurm", "--partition", "debug",
                   "--data-dir", str(data), "--results-dir", str(results)]
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        return processes[-1]

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.communicate()


def wait_until(condition, what: str, process: subprocess.Popen, timeout_s: float = 240):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            pytest.fail(f"the sweep ended before {what}:\n{process.communicate()[1]}")
        time.sleep(0.25)
    process.kill()
    pytest.fail(f"timed out waiting for {what}:\n{process.communicate()[1]}")


def finish(process: subprocess.Popen, timeout_s: float = 300) -> tuple[str, str]:
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"the sweep did not end:\n{process.communicate()[1]}")
    assert process.returncode == 0, err
    return out, err


def test_slurm_sweep_matches_serial_and_a_requeued_job_loses_nothing(tmp_path, study_data, on_cluster, start_sweep):
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID)
    configs = load_grid(grid).configs("local")
    serial = run_sweep(configs, Workspace.create(tmp_path / "serial", study_data, "cpu", progress=False))
    results = tmp_path / "slurm"
    process = start_sweep(grid, study_data, results)
    # once a first run has finished, requeue a job that has just started
    running = wait_until(lambda: result_times(results) and fresh_running_tasks(results),
                         "a run finished and a job starting", process)
    before = result_times(results)
    slurm.run_command(["scontrol", "requeue", running[0]])
    out, err = finish(process)
    assert "4 runs: ok 4, diverged 0, failed 0" in out
    stored = {r.config.run_id(): r.metrics for r in Workspace.create(results, study_data, "cpu").store.results()}
    assert stored == {r.config.run_id(): r.metrics for r in serial}  # identical to the serial executor's
    after = result_times(results)
    assert all(after[name] == mtime for name, mtime in before.items())  # nothing finished was redone
    assert "DUE TO JOB REQUEUE" in (results / "slurm" / f"{running[0]}_0_log.err").read_text()  # it was requeued
    assert "slurm: array" in err and "running" in err  # progress reports
    assert err.count("Bypassing sacct") <= 1  # accounting is disabled here


def test_a_cancelled_array_is_reported_and_the_next_sweep_resumes(tmp_path, study_data, on_cluster, start_sweep,
                                                                  capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID)
    results = tmp_path / "results"
    process = start_sweep(grid, study_data, results)
    wait_until(lambda: result_times(results), "a first run finished", process)
    array = {task.split("_")[0] for task in squeue_tasks()}
    slurm.run_command(["scancel", *array])
    out, err = finish(process)
    ok = int(out.split("ok ")[1].split(",")[0])
    assert 1 <= ok < 4 and f"failed {4 - ok}" in out
    assert f"{4 - ok} job(s) ended without a result (CANCELLED {4 - ok})" in err and "next sweep" in err
    store = Workspace.create(results, study_data, "cpu").store
    finished = {name: mtime for name, mtime in result_times(results).items()
                if store.load_by_id(name.removesuffix(".json")).status == "ok"}
    assert len(finished) == ok
    assert main(["sweep", str(grid), "--executor", "slurm", "--partition", "debug", "--data-dir", str(study_data),
                 "--results-dir", str(results)]) == 0
    assert "4 runs: ok 4, diverged 0, failed 0" in capsys.readouterr().out
    after = result_times(results)
    assert all(after[name] == mtime for name, mtime in finished.items())  # the next sweep ran only the rest


def test_requests_the_node_cannot_hold(tmp_path, study_data, on_cluster, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID)
    cpus = slurm.read_cluster()[1][0].cpus
    queued = set(squeue_tasks())
    assert main(["sweep", str(grid), "--executor", "slurm", "--cpus", str(cpus + 6), "--mem-gb", "1",
                 "--data-dir", str(study_data), "--results-dir", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert f"{cpus + 6} CPUs, 1.0 GB, 0 GPUs" in err and f"1 x {cpus} CPU" in err
    assert set(squeue_tasks()) <= queued  # refused before submitting
    # submitted anyway (by hand), such a job waits for PartitionConfig: following it ends at once
    job = slurm.run_command(["sbatch", "--parsable", f"--cpus-per-task={cpus + 6}", "--mem=1G",
                             "--wrap=true"]).strip()
    with pytest.raises(slurm.UnsatisfiableRequest, match="pending for PartitionConfig"):
        list(slurm.follow_array(job, [job], lambda task: False, poll_s=1))
    assert job not in squeue_tasks()  # and cancels it
