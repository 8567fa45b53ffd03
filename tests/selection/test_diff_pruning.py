"""Diff pruning: exactly k entries kept, the rest reset to theta_0; the L1 run is shared and
stored; a study gives the pruning variants their L1 run's settings."""
from __future__ import annotations

import pytest
import torch

from repro.runs.config import RunConfig
from repro.training.tuned_weights import TunedWeights
from repro.runs.run import Workspace, run_one
from repro.models import DecoderSpec, build_task_model, encoder_parameters
from repro.selection.selectors import count_parameters, mask_size, select_diff_pruning
from repro.variants.diff_pruning import l1_run
from repro.runs.grid_files import section_study


def tiny(seed: int = 0):
    return build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=seed)


def tuned_copy_of(model, seed: int = 1) -> TunedWeights:
    """The model's weights with every encoder entry and the decoder moved by random amounts."""
    generator = torch.Generator().manual_seed(seed)
    weights = TunedWeights.of(model)
    return TunedWeights({n: t + torch.randn(t.shape, generator=generator) for n, t in weights.encoder.items()},
                        {n: t + 1.0 for n, t in weights.decoder.items()})


class PruningStats:
    def __init__(self, model, weights: TunedWeights):
        self.model, self.weights = model, weights

    def pruning_magnitudes(self):
        return self.weights.change_magnitudes(encoder_parameters(self.model))


@pytest.mark.parametrize("k", [1, 7, 1000, "all"])
def test_diff_pruning_keeps_exactly_k_largest_changes_and_resets_the_rest(k):
    model = tiny()
    theta0 = {n: p.detach().clone() for n, p in encoder_parameters(model).items()}
    weights = tuned_copy_of(model)
    params = encoder_parameters(model)
    k = count_parameters(params) if k == "all" else k
    mask = select_diff_pruning(params, k, 0, PruningStats(model, weights))
    assert mask_size(mask) == k
    changes = weights.change_magnitudes(theta0)
    kept = torch.cat([changes[n][mask[n]] for n in params])
    dropped = torch.cat([changes[n][~mask[n]] for n in params])
    assert dropped.numel() == 0 or kept.min() >= dropped.max()

    weights.apply_pruned(model, mask)
    for name, param in encoder_parameters(model).items():
        assert torch.equal(param[mask[name]], weights.encoder[name][mask[name]]), name
        assert torch.equal(param[~mask[name]], theta0[name][~mask[name]]), name  # bit-identical theta_0
    for name, tensor in model.decoder.state_dict().items():
        assert torch.equal(tensor, weights.decoder[name])


def test_tuned_weights_round_trip(tmp_path):
    weights = tuned_copy_of(tiny())
    weights.save(tmp_path / "w.safetensors")
    loaded = TunedWeights.load(tmp_path / "w.safetensors")
    assert loaded.encoder.keys() == weights.encoder.keys() and loaded.decoder.keys() == weights.decoder.keys()
    assert all(torch.equal(loaded.encoder[n], t) for n, t in weights.encoder.items())


def test_change_magnitudes_reject_another_model():
    weights = TunedWeights.of(tiny())
    with pytest.raises(ValueError, match="differ in parameters"):
        weights.change_magnitudes({"other.weight": torch.zeros(2)})


def test_diff_pruning_needs_its_l1_run():
    params = encoder_parameters(tiny())
    with pytest.raises(ValueError, match="needs gradient statistics"):
        select_diff_pruning(params, 3, 0, None)


def smoke_config(selector: str, learning_rate: float, epochs: int = 1, **fields) -> RunConfig:
    return RunConfig(task="sst2", selector=selector, learning_rate=learning_rate, model="tiny-random", epochs=epochs,
                     train_size=24, val_size=8, max_length=32, subset_size=1e-2, **fields)


def test_both_pruning_variants_share_one_stored_l1_run(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    without = smoke_config("diff_pruning_no_retrain", 1e-3, pruning_l1=0.01)
    with_retraining = smoke_config("diff_pruning", 1e-2, pruning_l1=0.01, pruning_learning_rate=1e-3)
    assert l1_run(without) == l1_run(with_retraining)

    first = run_one(without, workspace)
    assert first.status == "ok", first.reason
    k = round(1e-2 * first.selection["encoder_parameters"])
    assert first.selection["k"] == k and first.selection["stat_pruning_cached"] is False
    assert first.timings["steps"] == 0  # nothing trained after pruning
    stored = workspace.store.load(l1_run(without))
    assert stored.status == "ok" and stored.config.variant == "full+l1:0.01"
    assert first.selection["stat_pruning_steps"] == stored.timings["steps"] > 0

    second = run_one(with_retraining, workspace)
    assert second.status == "ok", second.reason
    assert second.selection["stat_pruning_cached"] is True and second.timings["steps"] > 0
    assert set(workspace.store.to_frame()["selector"]) == {"diff_pruning", "diff_pruning_no_retrain", "full+l1:0.01"}


def test_diverged_l1_run_fails_the_pruning_run_with_the_reason(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    result = run_one(smoke_config("diff_pruning_no_retrain", 1e30, epochs=3, pruning_l1=0.01), workspace)
    assert result.status == "failed" and "L1 run" in result.reason and "diverged" in result.reason


def test_study_expands_penalised_and_pruning_variants():
    study = section_study("subset_size", "smoke", "sst2", seeds=[0], subset_sizes=[1e-2],
                          selectors="full+l2:0.1,diff_pruning,diff_pruning_no_retrain")
    configs = study.configs("local")
    penalised = [c for c in configs if c.selector == "full"]
    assert {c.learning_rate for c in penalised} == set(study.rates_for("full", None))  # falls back to full's grid
    assert all(c.regularization == "l2" and c.regularization_strength == 0.1 for c in penalised)
    pruning = [c for c in configs if c.selector == "diff_pruning"]
    assert pruning and all(c.pruning_learning_rate == study.pruning_learning_rate for c in pruning)
    assert all(c.pruning_learning_rate is None for c in configs if c.selector == "diff_pruning_no_retrain")
