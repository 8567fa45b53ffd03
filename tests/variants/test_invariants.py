"""Invariants of every registered variant on tiny BERT, RoBERTa and DistilBERT encoders, through
the real run path (a Study's configs, `run_one`, the stored weights): exactly k entries are
selected, every other encoder entry is bit-identical after training, the decoder trained; LoRA
changes only its target projections, its base weights stay frozen and its adapters train.

The table is read from the registry (`representatives`): a new variant is tested here without
editing this file (compare huggingface/peft tests/test_custom_models.py).
"""
from __future__ import annotations

import warnings

import pytest
import torch
from transformers import AutoModel, BertConfig, BertTokenizer, DistilBertConfig, RobertaConfig

from conftest import write_study_data
from repro.data import encode, load_task
from repro.models import DecoderSpec, build_task_model, load_encoder, load_tokenizer
from repro.runs.run import Workspace, _model_with_decoder_first, _prepare, rebuild_selection_mask, run_one
from repro.runs.study import Study
from repro.selection.fisher import empirical_fisher, empirical_fisher_loop
from repro.selection.selectors import count_parameters, mask_size, subset_k
from repro.training.loop import Schedule
from repro.training.lora import add_lora, lora_entries, query_value_projections
from repro.training.trainer import train_entries
from repro.training.tuned_weights import TunedWeights
from repro.variants.registry import representatives, variant_named

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SIZE = 0.05  # subset size of the variants that take one
MAX_LENGTH = 32
FAMILIES = {  # tiny random encoders, built from their transformers configs
    "bert": lambda vocab: BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=130, pad_token_id=0),
    "roberta": lambda vocab: RobertaConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                           intermediate_size=64, max_position_embeddings=130, pad_token_id=0),
    "distilbert": lambda vocab: DistilBertConfig(vocab_size=vocab, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                                                 max_position_embeddings=130, pad_token_id=0),
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_study_data(tmp_path_factory.mktemp("data"))


def tiny_model_folder(family: str, folder, data_dir):
    """A model folder as `from_pretrained` reads it: random weights and a word-level vocabulary
    of the study data."""
    words = sorted({w for path in data_dir.rglob("*.*") for w in path.read_text("latin-1").lower().split()})
    (folder / "vocab.txt").write_text("\n".join(SPECIALS + [w for w in words if w not in SPECIALS]) + "\n")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        AutoModel.from_config(FAMILIES[family](len(SPECIALS) + len(words))).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request, tmp_path_factory, data_dir):
    """(model folder, workspace) of one family; the workspace is shared by its variants, so the
    decoder, the gradient statistics and diff pruning's L1 run are computed once."""
    model = tiny_model_folder(request.param, tmp_path_factory.mktemp(request.param), data_dir)
    return model, Workspace.create(tmp_path_factory.mktemp(f"{request.param}-results"), data_dir, device="cpu",
                                   progress=False)


def config_of(name: str, model: str):
    """The variant's one run, as a Study makes it (its study fields included)."""
    study = Study(model=model, task="sst2", selectors=(name,), subset_sizes=(SIZE,),
                  learning_rates={variant_named(name).name: (5e-2,)}, seeds=(0,), epochs=1, train_size=16,
                  val_size=8, max_length=MAX_LENGTH, batch_size=8, fisher_samples=8, pretrain_fisher_samples=4,
                  pruning_l1=0.01, pruning_learning_rate=5e-2)
    [config] = study.configs("local")
    return config


@pytest.mark.parametrize("name", representatives())
def test_only_the_selected_entries_change(family, name):
    model, workspace = family
    config = config_of(name, model)
    result = run_one(config, workspace)
    assert result.status == "ok", result.reason
    start, _ = _model_with_decoder_first(config, _prepare(config, workspace), workspace)
    theta_0 = {n: p.detach() for n, p in start.encoder.named_parameters()}
    tuned = TunedWeights.load(workspace.store.weights_path(config), initial=theta_0)
    k, mask = result.selection["k"], rebuild_selection_mask(config, workspace)

    if mask is None:  # LoRA: adapters merged into the query and value projections, nothing else moves
        targets = {f"{m}.weight" for m in query_value_projections(load_encoder(model))}
        assert k == sum(config.lora_rank * sum(theta_0[n].shape) for n in targets)
        for n, value in theta_0.items():
            assert torch.equal(tuned.encoder[n], value) != (n in targets), n
    else:
        assert mask_size(mask) == k
        if not variant_named(name).fixed_size:
            assert k == subset_k(theta_0, SIZE)
        for n, value in theta_0.items():
            assert torch.equal(tuned.encoder[n][~mask[n]], value[~mask[n]]), n  # bit-identical
        assert any(not torch.equal(tuned.encoder[n][mask[n]], v[mask[n]]) for n, v in theta_0.items())
    assert any(not torch.equal(tuned.decoder[n], t) for n, t in start.decoder.state_dict().items())
    assert 0 < result.selection["fraction"] == k / count_parameters(theta_0) <= 1


def test_lora_trains_adapters_on_frozen_weights(family, data_dir):
    model_name, _ = family
    model = build_task_model(model_name, DecoderSpec("sequence", 2), seed=0)
    pretrained = {n: p.detach().clone() for n, p in model.encoder.named_parameters()}
    add_lora(model, rank=2, seed=0)
    data = load_task("sst2", data_dir)
    encoded = encode(data.train[:16], data.spec, load_tokenizer(model_name), MAX_LENGTH)
    train_entries(model, lora_entries(model), encoded, Schedule(epochs=1, batch_size=8, learning_rate=0.05), seed=0,
                  pad_token_id=0, progress=False)
    adapters = {n: p for n, p in model.encoder.named_parameters() if "lora_" in n}
    assert adapters and all(bool(p.abs().sum() > 0) for n, p in adapters.items() if "lora_B" in n)  # B starts at 0
    for name, param in model.encoder.named_parameters():
        if name not in adapters:
            original = name.replace("base_model.model.", "").replace(".base_layer", "")
            assert torch.equal(param, pretrained[original]), name


def test_every_family_loads_without_pooler_and_token_types_where_unknown(family):
    model_name, _ = family
    model = build_task_model(model_name, DecoderSpec("sequence", 2), seed=0)
    assert not any("pooler" in name for name, _ in model.encoder.named_parameters())  # the saved models have one
    assert model.takes_token_types == (model.encoder.config.model_type != "distilbert")


def test_batched_fisher_takes_every_family(family, data_dir):
    """The Fisher hooks score every family in one backward per batch (no fallback warning),
    equal to the per-sample loop."""
    model_name, _ = family
    model = build_task_model(model_name, DecoderSpec("sequence", 2), seed=0).double()
    data = load_task("sst2", data_dir)
    encoded = encode(data.train[:7], data.spec, load_tokenizer(model_name), MAX_LENGTH)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batched = empirical_fisher(model, encoded, pad_token_id=0, n_samples=7, batch_size=3, progress=False)
    loop = empirical_fisher_loop(model, encoded, pad_token_id=0, n_samples=7)
    for name, scores in loop.scores.items():
        torch.testing.assert_close(batched.scores[name], scores, rtol=1e-5, atol=1e-12, msg=name)


def test_lora_refuses_an_encoder_without_attention_projections():
    with pytest.raises(ValueError, match="no attention query/value projections.*module types seen.*Linear"):
        query_value_projections(torch.nn.Sequential(torch.nn.Linear(2, 2)))
