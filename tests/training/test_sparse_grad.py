"""Selected-entry weight gradients: the same updates as the plain masked trainer, nothing else computed."""
from __future__ import annotations

import contextlib
import copy

import pytest
import torch
import torch.nn.functional as F

import repro.training.trainer
from repro.data import encode, load_task
from repro.training.masked_adamw import MaskedAdamW, TrainedEntries
from repro.models import DecoderSpec, build_task_model, encoder_parameters, load_tokenizer
from repro.selection.selectors import bitfit_k, select_bitfit, select_random
from repro.training.sparse_grad import embedding_selected_grad, selected_products, selected_weight_grads
from repro.training.loop import Schedule
from repro.training.trainer import task_loss, train_masked, trained_entries

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def random_batch(seed: int, vocab: int, shape=(4, 9), device="cpu"):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, shape, generator=g)
    ids[0, -2:] = 0  # padding (BERT's padding_idx)
    attention = (ids != 0).long()
    batch = {"input_ids": ids, "attention_mask": attention, "labels": torch.randint(0, 2, (shape[0],), generator=g)}
    return {k: v.to(device) for k, v in batch.items()}


def train_steps(model, mask, batches, *, sparse: bool, max_grad_norm, max_density=1.0):
    """Masked steps over `batches`; returns the gathered (pre-clipping) gradients of each step."""
    model.train()
    entries = trained_entries(model, mask)
    optimizer = MaskedAdamW(entries, max_grad_norm=max_grad_norm)
    grads = []
    with selected_weight_grads(model, entries if sparse else [], max_density=max_density) as patched:
        for step, batch in enumerate(batches):
            torch.manual_seed(step)  # same dropout in both paths
            task_loss(model, batch).backward()
            grads.append([g.clone() for g in optimizer._gather_grads()])
            optimizer.step(1e-3 * (step + 1))
            optimizer.zero_grad()
    return grads, patched


def assert_same_training(name, k, batches, max_grad_norm, device, max_density=1.0) -> list:
    """Plain vs selected-entry path on the same batches; returns the modules switched to the path."""
    plain = build_task_model(name, DecoderSpec("sequence", 2), seed=0).to(device)
    sparse = copy.deepcopy(plain)
    before = {n: p.detach().clone() for n, p in plain.encoder.named_parameters()}
    mask = select_random(encoder_parameters(plain), k, seed=1)
    for n in mask:  # key biases have a zero gradient in exact arithmetic (softmax is shift-invariant):
        if n.endswith("key.bias"):  # Adam turns their rounding noise into +-lr steps in either path
            mask[n].zero_()
    mask = {n: m.to(device) for n, m in mask.items()}
    plain_grads, _ = train_steps(plain, mask, batches, sparse=False, max_grad_norm=max_grad_norm)
    sparse_grads, patched = train_steps(sparse, mask, batches, sparse=True, max_grad_norm=max_grad_norm,
                                        max_density=max_density)
    for a_step, b_step in zip(plain_grads, sparse_grads):  # relative error per tensor, floor: the whole step's
        floor = 1e-7 * float(torch.cat([a.reshape(-1) for a in a_step]).norm())
        for a, b in zip(a_step, b_step):
            assert float((b - a).norm()) <= 1e-5 * float(a.norm()) + floor
    for (n, a), b in zip(plain.encoder.named_parameters(), sparse.encoder.parameters()):
        selected = mask[n]
        # Adam divides by sqrt(v): an entry whose gradient is near rounding noise can differ by a
        # small fraction of one step (lr 1e-3) between the two summation orders; 1e-5 is 1% of a step
        torch.testing.assert_close(b.detach()[selected], a.detach()[selected], rtol=1e-5, atol=1e-5,
                                   msg=lambda message: f"{n}: {message}")
        assert torch.equal(b.detach().masked_fill(selected, 0), before[n].masked_fill(selected, 0)), n  # bit-identical
    for a, b in zip(plain.decoder.parameters(), sparse.decoder.parameters()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    return patched


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("max_grad_norm", [None, 5.0, 1e-3])
def test_tiny_model_same_updates_as_plain_path(max_grad_norm, device):
    batches = [random_batch(step, 1000, device=device) for step in range(4)]
    patched = assert_same_training("tiny-random", 20000, batches, max_grad_norm, device)
    assert {type(m) for m in patched} == {torch.nn.Linear, torch.nn.Embedding}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("max_grad_norm", [None, 5.0])
def test_minilm_same_updates_as_plain_path(max_grad_norm, device):
    """A real model at a 1e-3 subset, every partially selected weight on the path."""
    batches = [random_batch(step, 30000, shape=(3, 12), device=device) for step in range(2)]
    patched = assert_same_training("minilm-l6", 22700, batches, max_grad_norm, device, max_density=0.01)
    assert len(patched) == 6 * 6 + 2  # every linear weight, word and position embeddings


def test_dense_weights_stay_on_plain_path():
    """Linear weights above the density threshold keep the plain path (embeddings always switch)."""
    batches = [random_batch(step, 1000) for step in range(2)]
    patched = assert_same_training("tiny-random", 20000, batches, 5.0, "cpu", max_density=0.0)
    assert patched and all(isinstance(m, torch.nn.Embedding) for m in patched)


def test_selected_products_match_dense_product():
    g, x = torch.randn(37, 11), torch.randn(37, 5)
    index = torch.randperm(55)[:20]
    rows, cols = index // 5, index % 5
    torch.testing.assert_close(selected_products(g, x, rows, cols), (g.T @ x).reshape(-1)[index])


def test_embedding_rows_of_absent_tokens_get_zero_gradient():
    ids = torch.tensor([[3, 5, 3, 0]])
    g = torch.randn(1, 4, 6)
    rows = torch.tensor([3, 3, 5, 7, 0, 9])
    cols = torch.tensor([0, 5, 2, 1, 4, 3])
    out = embedding_selected_grad(ids, g, rows, cols, num_rows=10, padding_idx=0)
    expected = torch.stack([g[0, 0, 0] + g[0, 2, 0], g[0, 0, 5] + g[0, 2, 5], g[0, 1, 2]])
    torch.testing.assert_close(out[:3], expected)
    assert torch.equal(out[3:], torch.zeros(3))  # absent rows 7 and 9, and the padding row


def test_no_dense_weight_gradient_and_untouched_state_dict():
    """Patched weights get no dense gradient, unselected tensors none at all; state_dict unchanged."""
    model = build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    params = encoder_parameters(model)
    mask = select_random(params, 20000, seed=1)
    mask["encoder.layer.1.output.dense.weight"].zero_()  # a matrix with no selected entry
    entries = trained_entries(model, mask)
    MaskedAdamW(entries)  # gives each entry its slice of the flat gradient
    with selected_weight_grads(model, entries, max_density=1.0) as patched:
        assert model.state_dict().keys() == state.keys()
        task_loss(model, random_batch(0, 1000)).backward()
    assert patched and all("forward" not in m.__dict__ for m in patched)
    for module in patched:
        assert module.weight.grad is None
    assert params["encoder.layer.1.output.dense.weight"].grad is None
    linear = {id(m.weight) for m in patched if isinstance(m, torch.nn.Linear)}
    assert linear and all(bool(e.grad.any()) for e in entries if id(e.param) in linear)  # in the flat gradient
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


def test_entries_without_an_optimizer_are_rejected():
    """The selected entries' gradients go to the optimizer's flat gradient, so it must exist first."""
    model = build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0)
    entries = trained_entries(model, select_random(encoder_parameters(model), 20000, seed=1))
    with pytest.raises(ValueError, match="create the MaskedAdamW"):
        with selected_weight_grads(model, entries, max_density=1.0):
            pass


def test_bitfit_patches_nothing():
    """BitFit selects no weight matrix entry: the plain path already skips every weight gradient."""
    model = build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0)
    params = encoder_parameters(model)
    entries = trained_entries(model, select_bitfit(params, bitfit_k(params), 0))
    with selected_weight_grads(model, entries, max_density=1.0) as patched:
        assert patched == []


@pytest.mark.parametrize("rule,expected", [({"cpu": 0.5}, {torch.nn.Linear, torch.nn.Embedding}),
                                           ({"cpu": 0.0}, {torch.nn.Embedding}), ({}, set())])
def test_density_rule_per_device_type(monkeypatch, rule, expected):
    """Linear weights switch up to the device type's density; a device type without a rule switches nothing."""
    monkeypatch.setattr("repro.training.sparse_grad.SPARSE_LINEAR_MAX_DENSITY", rule)
    model = build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0)
    entries = trained_entries(model, select_random(encoder_parameters(model), 20000, seed=1))
    MaskedAdamW(entries)
    with selected_weight_grads(model, entries) as patched:
        assert {type(m) for m in patched} == expected


def test_train_masked_uses_the_path_by_default_with_the_same_result(study_data, monkeypatch):
    """train_masked(sparse_grads=True), the default, switches layers and trains the same weights."""
    switched = []

    @contextlib.contextmanager
    def recording(model, entries, max_density=None):
        with selected_weight_grads(model, entries, max_density) as patched:
            switched.append({type(m) for m in patched})
            yield patched

    monkeypatch.setattr(repro.training.trainer, "selected_weight_grads", recording)
    data = load_task("sst2", study_data)
    encoded = encode(data.train, data.spec, load_tokenizer("tiny-random"), 32)
    schedule = Schedule(epochs=1, batch_size=8, learning_rate=0.05)
    models = {}
    for sparse in (False, True):
        model = build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=3)
        mask = select_random(encoder_parameters(model), 2000, seed=2)  # 0.2% of each linear weight
        for n in mask:
            if n.endswith("key.bias"):  # zero gradient in exact arithmetic, see assert_same_training
                mask[n].zero_()
        kwargs = {} if sparse else {"sparse_grads": False}
        train_masked(model, mask, encoded, schedule, seed=0, pad_token_id=0, progress=False, **kwargs)
        models[sparse] = model
    assert switched == [set(), {torch.nn.Linear, torch.nn.Embedding}]
    for (n, a), b in zip(models[False].named_parameters(), models[True].parameters()):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=n)


def test_dense_gradient_of_a_shared_weight_is_added():
    """A weight used both by a switched layer and elsewhere gets the sum of both gradients."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(6, 4)
    x, other = torch.randn(5, 6), torch.randn(3, 6)
    index = torch.tensor([0, 7, 13, 22])
    (layer(x).square().sum() + F.linear(other, layer.weight).sum()).backward()
    expected = layer.weight.grad.reshape(-1)[index].clone()
    layer.weight.grad = None
    entry = TrainedEntries(layer.weight, index)
    optimizer = MaskedAdamW([entry])
    with selected_weight_grads(layer, [entry], max_density=1.0) as patched:
        (layer(x).square().sum() + F.linear(other, layer.weight).sum()).backward()
    assert patched == [layer]
    torch.testing.assert_close(optimizer._gather_grads()[0], expected)
