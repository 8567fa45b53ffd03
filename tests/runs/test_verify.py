"""`python -m repro verify`: reference runs drawn at random are re-run from scratch and compared
with their records; any difference fails the command."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from repro.cli import main
from repro.generality.measures import secondary_config
from repro.runs.config import RunConfig
from repro.runs.reference import REFERENCE_DIR, export
from repro.runs.run import Workspace, run_one
from repro.runs.store import cpu_model
from repro.runs.verify import draw, verify, verify_run

TINY = dict(model="tiny-random", epochs=1, train_size=24, val_size=8, max_length=32, batch_size=8)


def config(**changes) -> RunConfig:
    return RunConfig(**{**dict(task="sst2", selector="random", learning_rate=0.05, subset_size=0.01, **TINY), **changes})


@pytest.fixture
def reference(tmp_path, study_data) -> Path:
    """A reference made here: two primary runs and a secondary run on TREC-6 from the first."""
    workspace = Workspace.create(tmp_path / "made", study_data, device="cpu", progress=False)
    first = config(selector="full", subset_size=None, learning_rate=1e-2)
    secondary = secondary_config(first, config(task="trec6", selector="full", subset_size=None, learning_rate=1e-2))
    for run in (first, config(seed=1), secondary):
        assert run_one(run, workspace).status == "ok"
    export(tmp_path / "made", tmp_path / "reference")
    return tmp_path / "reference"


def test_verify_reruns_drawn_runs_and_their_primaries_and_finds_them_identical(reference, study_data, capsys):
    assert main(["verify", "--sample", "3", "--reference", str(reference), "--data-dir", str(study_data)]) == 0
    out = capsys.readouterr().out
    assert "4 run(s) re-run: 4 identical, 0 differ" in out  # the secondary's primary is re-run (and compared) too
    assert "primary of" in out
    assert len(re.findall(r"^  (validation|test|train) +stored \S+  new \S+$", out, re.M)) == 12  # each run's three


def test_verify_fails_when_a_stored_metric_differs(reference, study_data, capsys):
    path = next(p for p in (reference / "runs").glob("*.json") if json.loads(p.read_text())["config"]["seed"] == 1)
    record = json.loads(path.read_text())
    record["metrics"]["test"] += 0.001
    path.write_text(json.dumps(record))
    assert main(["verify", "--sample", "3", "--reference", str(reference), "--data-dir", str(study_data)]) == 1
    out = capsys.readouterr().out
    assert f"run {path.stem} " in out and "DIFFERS" in out and "1 differ" in out


def test_the_draw_is_seeded_and_checked(reference, tmp_path):
    assert draw(reference, 2, seed=3) == draw(reference, 2, seed=3)
    assert {c.run_id() for c in draw(reference, 10).configs} == {p.stem for p in (reference / "runs").glob("*.json")}
    with pytest.raises(ValueError, match="--sample 0 must be >= 1"):
        draw(reference, 0)
    with pytest.raises(ValueError, match="no finished run record"):
        draw(tmp_path / "empty", 1)


def made_elsewhere(path: Path, **metric_changes) -> dict:
    """Rewrite a reference record as made on another CPU model (with `metric_changes` added to
    its metrics); returns the record as it was."""
    record = json.loads(path.read_text())
    other = {**record, "environment": {**record["environment"], "cpu": "Other CPU"},
             "metrics": {k: v + metric_changes.get(k, 0.0) for k, v in record["metrics"].items()}}
    path.write_text(json.dumps(other))
    return record


def test_runs_are_drawn_among_those_made_on_this_cpu_model_unless_none_was_or_any_is_asked(reference):
    paths = sorted((reference / "runs").glob("*.json"))
    made_elsewhere(paths[0])
    here = draw(reference, 10)
    assert {c.run_id() for c in here.configs} == {p.stem for p in paths[1:]} and here.cpu == cpu_model()
    assert "from the 2 made on this CPU model" in here.describe(0) and "of 3 finished records" in here.describe(0)
    assert len(draw(reference, 10, any_cpu=True).configs) == 3
    for path in paths[1:]:
        made_elsewhere(path)
    anywhere = draw(reference, 10)
    assert len(anywhere.configs) == 3 and anywhere.cpu is None and "may differ by rounding" in anywhere.describe(0)


def test_a_secondary_runs_primary_is_compared_with_its_record_made_again_on_this_cpu_model(reference, study_data):
    """The stored primary came from another CPU model with other scores; the reference keeps the
    record made again here (remade/), which the secondary run started from."""
    records = {p: json.loads(p.read_text()) for p in (reference / "runs").glob("*.json")}
    secondary = next(RunConfig.from_dict(r["config"]) for r in records.values() if r["config"].get("init_from"))
    primary = reference / "runs" / f"{secondary.init_from}.json"
    here = made_elsewhere(primary, test=0.01)
    (reference / "remade").mkdir()
    (reference / "remade" / f"{secondary.init_from}@here.json").write_text(json.dumps(here))
    checks = verify_run(secondary, reference, study_data)
    assert [c.identical for c in checks] == [True, True] and "made again on this CPU model" in checks[0].role


DATA = next((Path(p) for p in (os.environ.get("REPRO_DATA_DIR"), REFERENCE_DIR.parent.parent / "shared" / "data")
             if p and Path(p).is_dir()), None)


@pytest.mark.slow
def test_two_runs_of_the_committed_reference_are_reproduced_identically():
    if not list((REFERENCE_DIR / "runs").glob("*.json")):
        pytest.skip(f"the committed reference {REFERENCE_DIR} holds no run records yet")
    if DATA is None:
        pytest.skip("no data folder: set REPRO_DATA_DIR (or place the data at ../shared/data)")
    checks = verify(REFERENCE_DIR, 2, seed=0, data_dir=DATA, progress=False)
    assert all(check.identical for check in checks), "\n".join(c.describe() for c in checks if not c.identical)


def test_a_metric_only_the_newer_code_records_is_a_note_not_a_difference():
    from repro.runs.store import RunResult
    from repro.runs.verify import Verification

    config = RunConfig(task="sst2", selector="full", learning_rate=1e-4, model="tiny-random")
    stored = RunResult(config, "ok", {"validation": 0.5, "test": 0.25, "train": 0.75}, data_fingerprint="f")
    newer = RunResult(config, "ok", {"validation": 0.5, "test": 0.25, "train": 0.75, "train_examples": 24},
                      data_fingerprint="f")
    check = Verification(config, stored, newer)
    assert check.identical and "train_examples new 24 (the stored record predates this metric)" in check.describe()
    lost = Verification(config, newer, stored)  # a metric the stored record has and the re-run lacks: differs
    assert not lost.identical and "train_examples stored 24  new absent   <- differs" in lost.describe()


def test_a_re_run_on_another_cpu_or_torch_says_so_in_its_notes():
    from repro.runs.store import RunResult
    from repro.runs.verify import environment_notes

    config = RunConfig(task="sst2", selector="full", learning_rate=1e-4, model="tiny-random")
    here = {"torch": "2.13.0+cpu", "transformers": "5.24.0", "python": "3.11.7", "machine": "x86_64", "cpu": "AMD EPYC"}
    old = RunResult(config, "ok", environment={**here, "cpu": None})  # recorded before the CPU was
    other = RunResult(config, "ok", environment={**here, "cpu": "Intel(R) Xeon(R) Processor", "torch": "2.12.0"})
    new = RunResult(config, "ok", environment=here)
    assert environment_notes(new, new) == []
    assert environment_notes(old, new) == ["cpu differs: stored not recorded, now AMD EPYC"]
    assert environment_notes(other, new) == ["torch differs: stored 2.12.0, now 2.13.0+cpu",
                                             "cpu differs: stored Intel(R) Xeon(R) Processor, now AMD EPYC"]


def test_the_training_loss_may_round_differently_on_another_cpu_but_never_the_scores():
    from repro.runs.store import RunResult
    from repro.runs.verify import Verification

    config = RunConfig(task="sst2", selector="full", learning_rate=1e-4, model="tiny-random")
    metrics = {"validation": 0.812, "test": 0.7477064220183486, "train": 0.824, "final_train_loss": 0.3438483476638794}

    def result(cpu, **changed):
        return RunResult(config, "ok", {**metrics, **changed}, data_fingerprint="f", environment={"cpu": cpu})
    rounded = {"final_train_loss": 0.34384843707084656}  # the same run on AMD EPYC; stored on an Intel Xeon
    check = Verification(config, result(None), result("AMD EPYC", **rounded))
    assert check.identical and "(rounding: another CPU model" in check.describe()
    assert not Verification(config, result("AMD EPYC"), result("AMD EPYC", **rounded)).identical  # same CPU: exact
    assert not Verification(config, result(None), result("AMD EPYC", final_train_loss=0.35)).identical
    assert not Verification(config, result(None), result("AMD EPYC", test=0.75)).identical  # scores: always exact
