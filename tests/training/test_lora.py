"""LoRA baseline: only its adapters and the decoder train; runs end to end; bad ranks are refused."""
from __future__ import annotations

import pytest
import torch

from repro.runs.config import RunConfig
from repro.data import encode, load_task
from repro.runs.run import Workspace, run_one
from repro.training.lora import add_lora, lora_entries
from repro.models import DecoderSpec, build_task_model, load_tokenizer
from repro.training.loop import Schedule
from repro.runs.grid_files import section_study
from repro.training.trainer import train_entries


def test_lora_trains_only_adapters_and_head(study_data):
    model = build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0)
    pretrained = {n: p.detach().clone() for n, p in model.encoder.named_parameters()}
    decoder = {n: p.detach().clone() for n, p in model.decoder.named_parameters()}
    adapters = add_lora(model, rank=2, seed=0)
    hidden, layers = model.encoder.config.hidden_size, model.encoder.config.num_hidden_layers
    assert adapters == layers * 2 * (2 * hidden * 2)  # query and value: A (r x in) and B (out x r)
    data = load_task("sst2", study_data)
    encoded = encode(data.train, data.spec, load_tokenizer("tiny-random"), 32)
    train_entries(model, lora_entries(model), encoded, Schedule(epochs=2, batch_size=8, learning_rate=0.05), seed=0,
                  pad_token_id=0, progress=False)
    for name, param in model.encoder.named_parameters():
        if "lora_" in name:
            continue
        original = name.replace("base_model.model.", "").replace(".base_layer", "")
        assert torch.equal(param, pretrained[original]), name  # frozen, bit-identical
    lora_b = [p for n, p in model.encoder.named_parameters() if "lora_B" in n]
    assert lora_b and all(bool(p.abs().sum() > 0) for p in lora_b)  # B starts at zero and has moved
    assert any(not torch.equal(p, decoder[n]) for n, p in model.decoder.named_parameters())


def test_lora_run_end_to_end(tmp_path, study_data):
    workspace = Workspace.create(tmp_path, study_data, device="cpu", progress=False)
    config = RunConfig(task="sst2", selector="lora", learning_rate=0.05, model="tiny-random", epochs=1, train_size=24,
                       val_size=8, max_length=32, batch_size=8, lora_rank=4)
    result = run_one(config, workspace)
    assert result.status == "ok", result.reason
    assert result.selection["k"] > 0 and 0 < result.selection["fraction"] < 1


@pytest.mark.parametrize("changes,match", [
    (dict(lora_rank=0), "LoRA rank 0 must be >= 1"),
    (dict(subset_size=0.01), "fixed size"),
])
def test_bad_lora_settings(changes, match):
    with pytest.raises(ValueError, match=match):
        RunConfig(task="sst2", selector="lora", learning_rate=1e-3, **changes)


def test_lora_in_a_study_is_one_cell_per_rate():
    configs = section_study("subset_size", "smoke", "sst2", selectors="lora").configs("local")
    assert len(configs) == 2 * 2 and {c.subset_size for c in configs} == {None}  # 2 rates x 2 seeds
