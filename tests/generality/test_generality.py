"""Section 4's probes: precision@1 by hand, the MLM probe leaves the encoder alone, secondary
runs start from the tuned encoder, the gap's sign, and what is kept of every run."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from repro.runs.config import RunConfig
from repro.data import IGNORE_INDEX, EncodedExample
from repro.runs.run import Workspace, _model_with_decoder_first, _prepare, initial_encoder, run_one, load_or_train_tuned_weights
from repro.generality.measures import Generality, assess, decoder_identity, generalisation_gap, secondary_config
from repro.generality.runs import run_secondaries
from repro.selection.mlm_decoder import MLMConfig, mlm_model, precision_at_1
from repro.models import DecoderSpec, TaskModel, build_task_model, encoder_parameters, load_encoder, load_tokenizer
from repro.generality.mlm_probe import MLMProbeConfig, ProbeStore, mlm_precision, section_probe
from repro.training.tuned_weights import TunedWeights
from repro.variants.registry import variant_fields


class FixedGuess(nn.Module):
    """A decoder that always predicts token `guess` (vocabulary of 10)."""

    def __init__(self, guess: int):
        super().__init__()
        self.guess = guess

    def forward(self, states):
        logits = torch.zeros(*states.shape[:-1], 10)
        logits[..., self.guess] = 1.0
        return logits


def test_precision_at_1_counts_masked_positions_only():
    model = TaskModel(load_encoder("tiny-random"), DecoderSpec("token", 10), FixedGuess(5))
    ignore = IGNORE_INDEX
    examples = [EncodedExample([101, 7, 8, 102], [ignore, 5, 7, ignore]),  # one of two right
                EncodedExample([101, 9, 102], [ignore, 5, ignore])]           # right
    assert precision_at_1(model, examples, pad_token_id=0) == pytest.approx(2 / 3)


def test_mlm_probe_never_changes_the_encoder(study_data):
    encoder = load_encoder("tiny-random")
    before = {n: p.detach().clone() for n, p in encoder.named_parameters()}
    flags = {n: p.requires_grad for n, p in encoder.named_parameters()}
    probe = section_probe("generality", "smoke")
    score = mlm_precision(encoder, "tiny-random", study_data, probe, progress=False)
    assert 0.0 <= score <= 1.0
    assert all(torch.equal(p, before[n]) for n, p in encoder.named_parameters())
    assert flags == {n: p.requires_grad for n, p in encoder.named_parameters()}


def test_probe_settings_are_checked():
    with pytest.raises(ValueError, match="train_sequences 0"):
        MLMProbeConfig(train_sequences=0)
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        section_probe("generality", "huge")


def test_gap_is_test_minus_train():
    assert generalisation_gap(0.8, 0.9) == pytest.approx(-0.1)  # test below train: below zero
    assert generalisation_gap(0.9, 0.8) > 0


def smoke(task: str = "sst2", selector: str = "full", learning_rate: float = 5e-2, **fields) -> RunConfig:
    return RunConfig(task=task, selector=selector, learning_rate=learning_rate, model="tiny-random", epochs=2,
                     train_size=16, val_size=8, max_length=32, **fields)


def test_secondary_run_starts_from_the_tuned_encoder(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    primary = smoke()
    assert run_one(primary, workspace).status == "ok"
    tuned = load_or_train_tuned_weights(primary, workspace)
    pretrained = {n: p.detach() for n, p in load_encoder("tiny-random").named_parameters()}
    assert any(not torch.equal(tuned.encoder[n], pretrained[n]) for n in pretrained)

    secondary = secondary_config(primary, smoke(task="conll03", learning_rate=1e-3))
    assert secondary.init_from == primary.run_id() and secondary.decoder_key() != replace(secondary, init_from=None).decoder_key()
    model, _ = _model_with_decoder_first(secondary, _prepare(secondary, workspace), workspace)
    for name, param in encoder_parameters(model).items():
        assert torch.equal(param.detach(), tuned.encoder[name]), name  # not the pretrained value
    assert all(torch.equal(initial_encoder(secondary, workspace)[n], tuned.encoder[n]) for n in pretrained)
    result = run_one(secondary, workspace)
    assert result.status == "ok", result.reason
    assert set(result.metrics) >= {"train", "validation", "test"}


def written_results(results) -> dict[str, int]:
    """Each stored run result and when it was last written."""
    return {p.name: p.stat().st_mtime_ns for p in (results / "runs").glob("*.json")}


def test_assess_reports_gap_probe_and_secondary_differences(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    primaries = [smoke(selector="random", subset_size=1e-2), smoke()]
    bases = {"sst2": {0: smoke()}, "conll03": {0: smoke(task="conll03", learning_rate=1e-3)}}
    for config in primaries + [bases["conll03"][0]]:
        run_one(config, workspace)
    generality = Generality(section_probe("generality", "smoke"), bases, ("conll03",))
    with pytest.raises(ValueError, match="2 base or secondary run.*run repro.generality.runs.run_secondaries first"):
        assess(primaries, generality, workspace)  # reads runs, never launches them
    run_secondaries(primaries, generality, workspace)
    before = written_results(tmp_path / "results")
    rows = assess(primaries, generality, workspace).set_index("variant")
    assert written_results(tmp_path / "results") == before  # no run was run again
    assert list(rows["status"]) == ["ok", "ok"]
    assert (rows["gap"] == rows["primary_test"] - rows["primary_train"]).all()
    assert rows.loc["full", "primary_diff"] == 0.0  # full fine-tuning is its own task's base
    base_test = workspace.store.load(bases["conll03"][0]).metrics["test"]
    assert (rows["secondary_full_diff"] - (rows["secondary_full"] - base_test)).abs().max() < 1e-12
    assert len(list((tmp_path / "results" / "probes" / "mlm").glob("*.json"))) == 3  # two runs + pretrained


def test_a_primary_is_run_again_for_its_weights_only_while_a_secondary_run_of_it_is_pending(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    primaries = [smoke(selector="random", subset_size=1e-2), smoke()]
    bases = {"sst2": {0: smoke()}, "conll03": {0: smoke(task="conll03", learning_rate=1e-3)}}
    generality = Generality(None, bases, ("conll03",))
    for config in primaries + [bases["conll03"][0]]:
        run_one(config, workspace)
    run_secondaries(primaries, generality, workspace)
    assess(primaries, generality, workspace)  # the probes: decoder-only scores of the secondary runs
    weights = [workspace.store.weights_path(p) for p in primaries]

    def fresh_machine():  # the records and probes are there, the weights are not
        for path in weights:
            path.unlink(missing_ok=True)

    fresh_machine()
    before = written_results(tmp_path / "results")
    run_secondaries(primaries, generality, workspace)
    assert written_results(tmp_path / "results") == before and not any(p.exists() for p in weights)

    secondary = generality.secondary_configs(primaries[0])["conll03"]
    workspace.store.path_for(secondary).unlink()
    run_secondaries(primaries, generality, workspace)
    assert [p.exists() for p in weights] == [True, False]  # only the start of the pending run
    assert workspace.store.load(secondary).status == "ok"

    fresh_machine()
    probes = sorted((tmp_path / "results" / "probes" / "decoder").glob("*.json"))
    other = generality.secondary_configs(primaries[1])["conll03"]
    (tmp_path / "results" / "probes" / ProbeStore.name("decoder", decoder_identity(other, workspace))).unlink()
    run_secondaries(primaries, generality, workspace)
    assert [p.exists() for p in weights] == [False, True]  # the probe still to measure reads it
    assert len(probes) == 3  # the primaries' two secondary runs and the base run


@pytest.mark.slow
def test_primaries_are_run_again_for_their_weights_side_by_side_on_the_pool(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    primaries = [smoke(selector="random", subset_size=1e-2), smoke()]
    generality = Generality(None, {"sst2": {0: smoke()}, "conll03": {0: smoke(task="conll03", learning_rate=1e-3)}},
                            ("conll03",))
    for config in primaries + [generality.base("conll03", 0)]:
        run_one(config, workspace)
        workspace.store.weights_path(config).unlink()  # made on another machine: no weights here
    stored = [workspace.store.load(p).metrics for p in primaries]
    run_secondaries(primaries, generality, workspace, "local:workers=2")
    assert all(workspace.store.weights_path(p).exists() for p in primaries)
    assert [workspace.store.load(p).metrics for p in primaries] == stored
    assert all(workspace.store.load(c).status == "ok" for p in primaries for c in generality.secondary_configs(p).values())


def test_assess_refuses_primaries_that_never_ran(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    generality = Generality(section_probe("generality", "smoke"), {"sst2": {0: smoke()}}, ())
    with pytest.raises(ValueError, match="no result"):
        assess([smoke(selector="bitfit")], generality, workspace)


def test_base_runs_must_be_full_fine_tuning_of_the_pretrained_encoder():
    with pytest.raises(ValueError, match="must be full fine-tuning"):
        Generality(section_probe("generality", "smoke"), {"sst2": {0: smoke(selector="bitfit")}}, ("sst2",))
    with pytest.raises(ValueError, match="no base run"):
        Generality(section_probe("generality", "smoke"), {}, ("trec6",))


def test_sparse_weights_round_trip_and_need_theta_0(tmp_path):
    model = build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0)
    theta0 = {n: p.detach().clone() for n, p in encoder_parameters(model).items()}
    with torch.no_grad():
        encoder_parameters(model)["encoder.layer.0.output.dense.bias"][3] += 1.0
    TunedWeights.of(model).save(tmp_path / "w.safetensors", initial=theta0)
    with pytest.raises(ValueError, match="pass `initial`"):
        TunedWeights.load(tmp_path / "w.safetensors")
    loaded = TunedWeights.load(tmp_path / "w.safetensors", initial=theta0)
    assert all(torch.equal(loaded.encoder[n], p.detach()) for n, p in encoder_parameters(model).items())
    dense = tmp_path / "dense.safetensors"
    TunedWeights.of(model).save(dense)
    assert (tmp_path / "w.safetensors").stat().st_size < dense.stat().st_size / 10


def test_lora_run_keeps_merged_weights(tmp_path, study_data):
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    config = smoke(**variant_fields("lora:2"))
    assert config.variant == "lora:2" and smoke(selector="lora").variant == "lora"
    assert run_one(config, workspace).status == "ok"
    weights = load_or_train_tuned_weights(config, workspace)
    assert set(weights.encoder) == set(initial_encoder(config, workspace))  # plain names: adapters merged
    moved = {n for n, t in weights.encoder.items() if not torch.equal(t, initial_encoder(config, workspace)[n])}
    assert moved and all("query" in n or "value" in n for n in moved)


@pytest.mark.parametrize("variant, message", [("lora:0", "integer rank >= 1"), ("lora:x", "integer rank")])
def test_bad_lora_variants_are_refused(variant, message):
    with pytest.raises(ValueError, match=message):
        variant_fields(variant)


def test_init_from_must_be_a_run_id_and_is_left_out_of_old_ids():
    with pytest.raises(ValueError, match="init_from 'abc'"):
        smoke(init_from="abc")
    assert "init_from" not in smoke().to_dict()
    assert RunConfig.from_dict(smoke(init_from="0123456789abcdef").to_dict()).init_from == "0123456789abcdef"
