"""The Slurm side of the slurm executor without Slurm: recorded scontrol and squeue output,
the request check, the array follower and its pending reasons, and the CLI's resource flags."""
from __future__ import annotations

import itertools

import pytest

from repro.cli import main
from repro.runs import slurm
from repro.runs.executors import ExecutorConfig, executor_config
from repro.runs.profiles import SLURM_RESOURCES
from repro.runs.slurm import JobRequest, TaskState, UnsatisfiableRequest

# `scontrol show partition --oneliner` and `scontrol show node --oneliner`, as Slurm 22.05 prints them
PARTITIONS = (
    "PartitionName=debug AllowGroups=ALL AllowAccounts=ALL Default=YES QoS=N/A DefaultTime=NONE MaxNodes=UNLIMITED "
    "MaxTime=UNLIMITED MinNodes=0 MaxCPUsPerNode=UNLIMITED Nodes=laptop State=UP TotalCPUs=2 TotalNodes=1 "
    "DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED TRES=cpu=2,mem=8000M,node=1,billing=2\n"
    "PartitionName=gpu AllowGroups=ALL Default=NO MaxTime=1-00:00:00 MaxCPUsPerNode=16 Nodes=g[01-02] State=UP "
    "MaxMemPerNode=128000 TRES=cpu=128,mem=1000G,node=2,billing=128,gres/gpu=8\n"
)
NODES = (
    "NodeName=laptop Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 CPUEfctv=2 CPUTot=2 CPULoad=0.82 "
    "AvailableFeatures=(null) Gres=(null) NodeAddr=127.0.0.1 NodeHostName=vm Version=22.05.8 "
    "OS=Linux 6.1.0 #1 SMP PREEMPT_DYNAMIC RealMemory=8000 AllocMem=0 FreeMem=20978 State=IDLE "
    "Partitions=debug CfgTRES=cpu=2,mem=8000M,billing=2\n"
    "NodeName=g01 CPUTot=64 CPUEfctv=64 Gres=gpu:a100:4(S:0-1) RealMemory=512000 State=MIXED Partitions=gpu\n"
    "NodeName=g02 CPUTot=64 CPUEfctv=64 Gres=gpu:a100:4(S:0-1) RealMemory=512000 State=DOWN+NOT_RESPONDING "
    "Partitions=gpu Reason=Not responding [slurm@2024-01-01T00:00:00]\n"
)


class FakeSlurm:
    """Answers Slurm commands from recorded output: scontrol from the cluster above, squeue from
    a script (one answer per call, the last one repeated); records every command."""

    def __init__(self, squeue=()):
        self.squeue = list(squeue)
        self.commands = []

    def __call__(self, args):
        self.commands.append(args)
        if args[:3] == ["scontrol", "show", "partition"]:
            return PARTITIONS
        if args[:3] == ["scontrol", "show", "node"]:
            return NODES
        if args[0] == "squeue":
            answer = self.squeue.pop(0) if len(self.squeue) > 1 else self.squeue[0]
            if isinstance(answer, Exception):
                raise answer
            return answer
        if args[0] == "scancel":
            return ""
        raise AssertionError(f"unexpected command {args}")


@pytest.fixture
def fake_slurm(monkeypatch):
    def install(squeue=()):
        fake = FakeSlurm(squeue)
        monkeypatch.setattr(slurm, "run_command", fake)
        return fake
    return install


@pytest.fixture
def reports(monkeypatch):
    lines = []
    monkeypatch.setattr(slurm, "report", lines.append)
    return lines


def test_scontrol_records_become_partitions_and_nodes(fake_slurm):
    fake_slurm()
    partitions, nodes = slurm.read_cluster()
    assert partitions["debug"].default and partitions["debug"].max_time_min is None
    assert partitions["gpu"].max_time_min == 1440 and partitions["gpu"].max_cpus_per_node == 16
    assert partitions["gpu"].max_mem_mb_per_node == 128000
    laptop, g01, g02 = nodes
    assert (laptop.cpus, laptop.mem_mb, laptop.gpus, laptop.partitions) == (2, 8000, 0, ("debug",))
    assert (g01.gpus, g01.up, g02.up) == (4, True, False)


@pytest.mark.parametrize("text,expected", [("UNLIMITED", None), ("INFINITE", None), ("30", 30), ("30:30", 30.5),
                                           ("4:00:00", 240), ("1-00:00:00", 1440), ("2-12", 3600)])
def test_slurm_durations_in_minutes(text, expected):
    assert slurm.minutes(text) == expected


@pytest.mark.parametrize("gres,expected", [("(null)", 0), ("gpu:4", 4), ("gpu:a100:2(S:0,1),gpu:v100:2", 4),
                                           ("gpu:2,mps:200", 2)])
def test_gpus_of_a_gres_field(gres, expected):
    assert slurm.gpu_count(gres) == expected


def check(request, fake_slurm):
    fake_slurm()
    return slurm.check_request(request, *slurm.read_cluster())


def test_a_request_that_fits_goes_to_its_partition(fake_slurm, reports):
    assert check(JobRequest("debug", 1, 4, 0, 240), fake_slurm).name == "debug"
    assert check(JobRequest(None, 2, 7, 0, 240), fake_slurm).name == "debug"  # the default partition
    assert check(JobRequest("gpu", 16, 100, 4, 600), fake_slurm).name == "gpu"
    assert reports == []


def test_a_request_no_node_can_hold_is_refused_with_both_sides(fake_slurm):
    with pytest.raises(UnsatisfiableRequest, match=r"partition 'debug' has no node for a job of 8 CPUs, 32.0 GB, "
                                                   r"0 GPUs; its nodes offer 1 x 2 CPUs, 7.8 GB, 0 GPUs"):
        check(JobRequest("debug", 8, 32, 0, 240), fake_slurm)
    with pytest.raises(UnsatisfiableRequest, match=r"1 CPU, 4.0 GB, 1 GPU;.*--gpus"):
        check(JobRequest("debug", 1, 4, 1, 240), fake_slurm)
    # the partition's caps per node count, not only the nodes: 16 CPUs and 125 GB of each 64-CPU node
    with pytest.raises(UnsatisfiableRequest, match=r"offer 2 x 16 CPUs, 125.0 GB, 4 GPUs"):
        check(JobRequest("gpu", 32, 8, 1, 240), fake_slurm)


def test_unknown_partition_and_time_above_maxtime(fake_slurm):
    with pytest.raises(UnsatisfiableRequest, match=r"partition 'gpus' does not exist; partitions: debug, gpu"):
        check(JobRequest("gpus", 1, 4, 0, 240), fake_slurm)
    with pytest.raises(UnsatisfiableRequest, match=r"3000 min per job is above partition 'gpu''s MaxTime of 1440"):
        check(JobRequest("gpu", 1, 4, 1, 3000), fake_slurm)


def test_a_partition_down_or_without_a_node_up_is_reported(reports):
    request = JobRequest("gpu", 1, 4, 1, 60)
    slurm.check_request(request, {"gpu": slurm.Partition("gpu", False, "UP", None, None, None)},
                        [slurm.Node("g02", 64, 512000, 4, "DOWN+NOT_RESPONDING", ("gpu",))])
    assert "no node of partition 'gpu' is up now (g02 DOWN+NOT_RESPONDING)" in reports[0]
    slurm.check_request(request, {"gpu": slurm.Partition("gpu", False, "DOWN", None, None, None)},
                        [slurm.Node("g01", 64, 512000, 4, "IDLE", ("gpu",))])
    assert "partition 'gpu' is DOWN now; the jobs wait until it is UP" in reports[1]


def squeue(*tasks: str) -> str:
    return "".join(f"{task}\n" for task in tasks)


def follow(fake, task_results, **kwargs):
    """follow_array on array 7 of tasks 7_0..7_{n-1}; task i has a result once squeue has been
    called `task_results[i]` times (None: never)."""
    def has_result(task):
        start = task_results[int(task.split("_")[1])]
        return start is not None and sum(command[0] == "squeue" for command in fake.commands) >= start

    tasks = [f"7_{i}" for i in range(len(task_results))]
    return list(slurm.follow_array("7", tasks, has_result, **{"poll_s": 0, "report_s": 0, "grace_s": 0, **kwargs}))


def test_following_an_array_to_its_end(fake_slurm, reports):
    fake = fake_slurm([
        squeue("7_0|RUNNING|None", "7_1|RUNNING|None", "7_2|PENDING|Resources", "7_3|PENDING|Resources"),
        squeue("7_0|COMPLETED|None", "7_1|CANCELLED|None", "7_2|RUNNING|None", "7_3|PENDING|Resources"),
        squeue("7_2|FAILED|NonZeroExitCode", "7_3|RUNNING|None"),
        squeue("7_3|RUNNING|None"),
    ])
    assert follow(fake, [2, None, None, 4]) == [("7_0", None), ("7_1", "CANCELLED"), ("7_2", "FAILED"),
                                                ("7_3", None)]
    assert reports[0] == "array 7: 2 running, 2 pending (Resources 2), 0 finished"
    assert ["scancel", "7"] not in fake.commands
    assert fake.commands[0] == ["squeue", "--noheader", "--array", "--states=all", "--jobs=7", "--format=%i|%T|%r"]


def test_a_task_squeue_no_longer_lists_ends_as_gone(fake_slurm, reports):
    invalid = slurm.SlurmCommandError("squeue failed: slurm_load_jobs error: Invalid job id specified")
    fake = fake_slurm([squeue("7_0|RUNNING|None", "7_1|RUNNING|None"), invalid])
    assert follow(fake, [None, 2]) == [("7_0", "gone"), ("7_1", None)]


def test_a_requeued_task_is_waited_for_and_reported_once(fake_slurm, reports):
    fake = fake_slurm([squeue("7_0|RUNNING|None"), squeue("7_0|REQUEUED|None"), squeue("7_0|PENDING|BeginTime"),
                       squeue("7_0|RUNNING|None")])
    assert follow(fake, [5]) == [("7_0", None)]
    assert "array 7: 0 running, 1 pending (BeginTime 1), 0 finished" in reports


def test_an_ended_task_whose_result_appears_within_the_grace_period_is_ok(fake_slurm, reports, monkeypatch):
    monkeypatch.setattr(slurm.time, "monotonic", itertools.count(0, 5).__next__)
    fake = fake_slurm([squeue("7_0|COMPLETED|None")])
    assert follow(fake, [4], grace_s=500) == [("7_0", None)]


def test_squeue_failing_for_a_while_is_waited_out(fake_slurm, reports):
    down = slurm.SlurmCommandError("squeue failed: Unable to contact slurm controller (connect failure)")
    fake = fake_slurm([down, down, squeue("7_0|RUNNING|None")])
    assert follow(fake, [3]) == [("7_0", None)]
    assert "cannot read its state" in reports[0] and "still waiting" in reports[0]


@pytest.mark.parametrize("reason", ["PartitionConfig", "QOSMaxCpuPerJobLimit", "AssocMaxMemPerJob",
                                    "QOSMaxWallDurationPerJobLimit", "BadConstraints"])
def test_a_reason_that_never_resolves_ends_the_wait(fake_slurm, reports, reason):
    fake = fake_slurm([squeue(f"7_0|PENDING|{reason}", f"7_1|PENDING|{reason}")])
    with pytest.raises(UnsatisfiableRequest, match=rf"array 7: 2 job\(s\) pending for {reason}: .*does not resolve"):
        follow(fake, [None, None])
    assert fake.commands[-1] == ["scancel", "7"]


@pytest.mark.parametrize("reason", ["Resources", "Priority", "JobArrayTaskLimit", "QOSGrpCpuLimit",
                                    "QOSMaxJobsPerUserLimit", "AssocGrpMemLimit", "ReqNodeNotAvail", "BeginTime"])
def test_reasons_that_resolve_by_themselves(reason):
    assert not slurm.is_fatal(reason)


def test_summary_of_states():
    states = {"1_0": TaskState("RUNNING", "None"), "1_1": TaskState("PENDING", "Priority"),
              "1_2": TaskState("PENDING", "Resources"), "1_3": TaskState("PENDING", "Resources"),
              "1_4": TaskState("SUSPENDED", "None")}
    assert slurm.summarise(states, 3) == "1 running, 3 pending (Resources 2, Priority 1), 1 suspended, 3 finished"


def test_executor_resources_default_to_the_profile():
    for profile, resources in SLURM_RESOURCES.items():
        executor = executor_config("slurm", profile)
        assert (executor.cpus_per_job, executor.mem_gb, executor.gpus_per_job) == tuple(resources.values())
    executor = executor_config("slurm", "paper", cpus_per_job=2, mem_gb=None, gpus_per_job=0, slurm_partition="cpu")
    assert (executor.cpus_per_job, executor.mem_gb, executor.gpus_per_job) == (2, SLURM_RESOURCES["paper"]["mem_gb"], 0)
    assert executor.describe() == "slurm: partition cpu, 2 CPUs, 16 GB, 0 GPUs, 240 min per job, 32 at once"
    assert ExecutorConfig().cpus_per_job == SLURM_RESOURCES["cpu"]["cpus_per_job"]


@pytest.mark.parametrize("settings,match", [
    (dict(gpus_per_job=-1), r"gpus_per_job must be >= 0, got -1"),
    (dict(mem_gb=0), r"mem_gb must be >= 1, got 0"),
    (dict(cpus_per_job=1.5), r"cpus_per_job must be a whole number, got 1.5"),
    (dict(cpus=2), r"unknown executor settings \['cpus'\]"),
])
def test_bad_executor_resources(settings, match):
    with pytest.raises(ValueError, match=match):
        executor_config("slurm", "smoke", **settings)


GRID = "profile: smoke\nstudies:\n  - task: sst2\n    seeds: [0]\n    selectors: bitfit\n    learning_rates: [0.01]\n"


def test_cli_refuses_an_oversized_request_before_submitting(tmp_path, study_data, fake_slurm, monkeypatch, capsys):
    fake = fake_slurm()
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    (tmp_path / "grid.yaml").write_text(GRID)
    args = ["sweep", str(tmp_path / "grid.yaml"), "--executor", "slurm", "--partition", "debug", "--data-dir",
            str(study_data), "--results-dir", str(tmp_path / "results")]
    assert main(args + ["--cpus", "8", "--mem-gb", "32"]) == 2
    err = capsys.readouterr().err
    assert "8 CPUs, 32.0 GB, 0 GPUs" in err and "1 x 2 CPUs, 7.8 GB, 0 GPUs" in err
    assert all(command[0] == "scontrol" for command in fake.commands)  # nothing was submitted


def test_cli_without_slurm_says_how_to_get_one(tmp_path, study_data, monkeypatch, capsys):
    monkeypatch.setattr("shutil.which", lambda name: None)
    (tmp_path / "grid.yaml").write_text(GRID)
    assert main(["sweep", str(tmp_path / "grid.yaml"), "--executor", "slurm", "--data-dir", str(study_data),
                 "--results-dir", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert "needs Slurm's sbatch" in err and "scripts/slurm_local.sh start" in err
