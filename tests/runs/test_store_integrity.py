"""Damaged or stale results are named, set aside and recomputed; nothing is lost or silently reused."""
from __future__ import annotations

import json
import os
import stat
import time

import pytest

from repro.files import atomic_target, remove_stray_temporaries
from repro.runs.config import RunConfig
from repro.runs.run import Workspace, run_one, run_unless_finished
from repro.runs.store import ResultStore, RunResult
from repro.runs.sweep import plan_sweep


def config(**changes) -> RunConfig:
    fields = dict(task="sst2", selector="random", learning_rate=1e-2, model="tiny-random", subset_size=0.01,
                  epochs=1, train_size=16, val_size=8, max_length=32)
    return RunConfig(**{**fields, **changes})


@pytest.mark.parametrize("content, named", [
    ("", "JSONDecodeError"),
    ('{"config": {"task": "sst2"', "JSONDecodeError"),
    ("not json at all", "JSONDecodeError"),
    (None, "missing key 'metrics'"),
    (b"\xff\xfe{}", "UnicodeDecodeError"),
])
def test_a_damaged_result_file_is_named_quarantined_and_not_used(tmp_path, content, named):
    store = ResultStore(tmp_path)
    path = store.write(RunResult(config(), "ok", {"test": 0.5}))
    if content is None:
        data = json.loads(path.read_text())
        del data["metrics"]
        path.write_text(json.dumps(data))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.warns(UserWarning, match=str(path)):
        assert store.load(config()) is None
    assert not path.exists()
    reason = (tmp_path / "quarantine" / f"{path.name}.reason").read_text()
    assert named in reason and (tmp_path / "quarantine" / path.name).exists()
    store.write(RunResult(config(seed=1), "ok", {"test": 0.5}))
    assert [r.config.seed for r in store.results()] == [1]  # the others are still read


def test_a_result_made_from_other_data_is_quarantined_and_rerun(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    first = run_one(config(), workspace)
    assert first.status == "ok" and first.data_fingerprint
    assert plan_sweep([config()], workspace).finished == [config()]
    train = study_data / "sst2" / "train.tsv"
    train.write_text(train.read_text().replace("the film was", "the movie was"))
    os.utime(train, ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.warns(UserWarning, match="data changed"):
        assert plan_sweep([config()], workspace).pending == [config()]
    again = run_unless_finished(config(), workspace)
    assert again.data_fingerprint != first.data_fingerprint
    assert (tmp_path / "results" / "quarantine" / f"{config().run_id()}.json").exists()


def test_stray_temporaries_are_removed_once_old(tmp_path):
    old, fresh = tmp_path / "runs" / ".a.json.x1.tmp", tmp_path / "cache" / ".b.pt.x2.tmp"
    for path in (old, fresh):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert remove_stray_temporaries(tmp_path) == [old]
    assert fresh.exists() and not old.exists()


def test_every_written_file_gets_the_same_permissions(tmp_path):
    from safetensors.torch import save_file
    import torch

    targets = [tmp_path / "result.json", tmp_path / "weights.safetensors"]
    with atomic_target(targets[0]) as tmp:
        tmp.write_text("{}")
    with atomic_target(targets[1]) as tmp:
        save_file({"w": torch.zeros(2)}, str(tmp))
    mask = os.umask(0)
    os.umask(mask)
    assert {stat.S_IMODE(p.stat().st_mode) for p in targets} == {0o666 & ~mask}
