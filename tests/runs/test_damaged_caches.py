"""A damaged cache file (zero bytes, cut short) is named, set aside to `<results>/quarantine/`
with its reason, and computed again to the same values: decoder-first decoders, tokenised tasks,
Fisher scores and tuned weights. The files are damaged here, after a real run wrote them."""
from __future__ import annotations

import re
import shutil

import pytest
import torch
from conftest import write_study_data

from repro.data import load_task
from repro.data.token_cache import encoded_task
from repro.models import load_tokenizer
from repro.runs.config import RunConfig
from repro.runs.run import Workspace, load_or_train_tuned_weights, run_one

CONFIG = RunConfig(task="sst2", selector="largest_downstream_sqgrad", learning_rate=1e-2, model="tiny-random",
                   subset_size=0.01, epochs=1, train_size=16, val_size=8, max_length=32, fisher_samples=8)
DAMAGES = {"zero bytes": lambda data: b"", "cut short": lambda data: data[: len(data) // 2]}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """One finished run of CONFIG: its results folder (every cache written) and its result."""
    root = tmp_path_factory.mktemp("first")
    data_dir = write_study_data(root / "data")
    workspace = Workspace.create(root / "results", data_dir, device="cpu", progress=False)
    result = run_one(CONFIG, workspace)
    assert result.status == "ok", result.reason
    return workspace, result


def rerun(workspace: Workspace):
    return run_one(CONFIG, workspace).metrics


def retokenise(workspace: Workspace):
    data = load_task("sst2", workspace.data_dir)
    return encoded_task(data, load_tokenizer("tiny-random"), "tiny-random", CONFIG.max_length,
                        workspace.store.cache_dir)


def reload_weights(workspace: Workspace):
    return load_or_train_tuned_weights(CONFIG, workspace).encoder


# cache folder -> what reads it again (and recomputes it when it is set aside)
CACHES = {"decoders": rerun, "tokens": retokenise, "fisher": rerun, "tuned": reload_weights}


def same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return a == b


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("cache", CACHES)
def test_a_damaged_cache_file_is_named_set_aside_and_recomputed(first_run, tmp_path, cache, damage):
    source, _ = first_run
    shutil.copytree(source.results_dir, tmp_path / "results")
    workspace = Workspace(tmp_path / "results", source.data_dir, "cpu", progress=False)
    read_again = CACHES[cache]
    expected = read_again(workspace)  # from the intact cache
    (path,) = (workspace.store.cache_dir / cache).glob("*")
    path.write_bytes(DAMAGES[damage](path.read_bytes()))

    with pytest.warns(UserWarning, match=re.escape(str(path))):
        recomputed = read_again(workspace)

    assert same(recomputed, expected)
    quarantined = workspace.store.quarantine_dir / path.name
    assert quarantined.exists() and quarantined.stat().st_size < len(path.read_bytes())
    assert "unreadable cache file" in (workspace.store.quarantine_dir / f"{path.name}.reason").read_text()
    assert path.exists()  # written again, and read without a warning next time
    assert same(read_again(workspace), expected)


def test_a_decoder_cache_of_another_shape_is_set_aside(first_run, tmp_path):
    """A readable file that is not this decoder's never half-loads into it."""
    from safetensors.torch import save_file

    source, result = first_run
    shutil.copytree(source.results_dir, tmp_path / "results")
    workspace = Workspace(tmp_path / "results", source.data_dir, "cpu", progress=False)
    (path,) = (workspace.store.cache_dir / "decoders").glob("*")
    save_file({"weight": torch.zeros(3, 5)}, str(path))
    with pytest.warns(UserWarning, match="not the decoder's"):
        assert rerun(workspace) == result.metrics
