"""The runs behind a generality page (`repro.generality.runs`): the primary's own task is among
its secondary tasks (the paper's Tables 3, 6, 7), and a workspace that does not train refuses to."""
from __future__ import annotations

import pytest

from repro.generality.runs import run_and_assess, secondary_tasks_of
from repro.runs.config import RunConfig
from repro.runs.run import Workspace, run_one
from repro.runs.store import NotComputed

SHARED = dict(seeds="0", train_size=16)  # the settings the base studies share with the primaries


def primary(selector: str, task: str = "sst2", **fields) -> RunConfig:
    return RunConfig(task=task, selector=selector, learning_rate=1e-2, model="tiny-random", epochs=1, train_size=16,
                     val_size=8, max_length=32, batch_size=16, **fields)


def test_the_primary_task_counts_among_the_secondary_tasks_except_on_the_similarity_page():
    primaries = [primary("full"), primary("random", subset_size=0.01), primary("bitfit", task="trec6")]
    assert secondary_tasks_of("generality", primaries, ["trec6", "conll03"]) == ("sst2", "trec6", "conll03")
    assert secondary_tasks_of("regularization", primaries[:1], []) == ("sst2",)
    assert secondary_tasks_of("task_similarity", primaries, ["conll03_de", "trec6"]) == ("conll03_de", "trec6")
    assert secondary_tasks_of("generality", primaries, ["trec6"], include_primary=False) == ("trec6",)


def test_primary_task_is_among_the_secondary_tasks(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    primaries = [primary("random", subset_size=0.01), primary("bitfit")]
    for config in primaries:
        assert run_one(config, workspace).status == "ok"
    rows, bases, _ = run_and_assess("generality", "smoke", primaries, ["trec6"], None, workspace, **SHARED)
    assert sorted(bases) == ["sst2", "trec6"]
    for variant, part in rows.groupby("variant"):
        assert sorted(part["secondary_task"]) == ["sst2", "trec6"], variant
        own = part.set_index("secondary_task").loc["sst2"]
        stored = workspace.store.load_by_id(own["secondary_run_id"])
        assert stored.config.init_from == own["run_id"] and stored.config.task == "sst2"
        assert stored.config.learning_rate == bases["sst2"][0].learning_rate  # the base's rate, as every secondary run
        assert own["secondary_full"] == stored.metrics["test"]


def test_a_workspace_that_does_not_train_raises_for_pending_base_runs(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False, train=False)
    with pytest.warns(UserWarning, match="pending"), pytest.raises(NotComputed, match="base run"):
        run_and_assess("generality", "smoke", [primary("bitfit")], ["trec6"], None, workspace, **SHARED)
    assert not (tmp_path / "results" / "runs").exists()
