"""Slow integration: real minilm-l6 runs on every real task (run with `pytest -m slow`)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from repro.runs.config import RunConfig
from repro.runs.run import Workspace, run_one

REAL_DATA = Path(os.environ.get("REPRO_TEST_DATA_DIR", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not REAL_DATA.is_dir(), reason=f"real data folder {REAL_DATA} not present")]


@pytest.mark.parametrize("task,selector,lr,floor", [
    ("sst2", "random", 1e-2, 0.65),   # chance: 0.5
    ("trec6", "full", 1e-4, 0.40),  # majority class: 0.28
    ("qnli", "full", 1e-4, 0.52),     # chance: 0.5
    ("conll03", "random", 3e-2, 0.05),
])
def test_real_task_learns(tmp_path, task, selector, lr, floor):
    config = RunConfig(task=task, selector=selector, learning_rate=lr, subset_size=None if selector != "random" else 1e-2,
                       epochs=1, train_size=400, val_size=50, max_length=64)
    result = run_one(config, Workspace.create(tmp_path, REAL_DATA, device="cpu", progress=False))
    assert result.status == "ok", result.reason
    assert result.metrics["test"] > floor, result.metrics
