"""The masked trainer: sparse AdamW equals dense AdamW on the subset; nothing else moves."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from transformers import get_linear_schedule_with_warmup

from repro.data import collate, encode, iterate_batches, load_task
from repro.training.masked_adamw import MaskedAdamW, TrainedEntries
from repro.models import DecoderSpec, build_task_model, encoder_parameters, load_tokenizer
from repro.training.loop import Schedule, linear_warmup_lr
from repro.selection.selectors import bitfit_k, count_parameters, select_bitfit, select_full, select_random, subset_k
from repro.training.trainer import task_loss, train_masked, trained_entries


def tiny_model(seed: int = 0):
    return build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=seed)


def random_batch(seed: int, vocab: int = 1000):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (4, 9), generator=g)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.randint(0, 2, (4,), generator=g)}


@pytest.mark.parametrize("max_grad_norm", [None, 5.0, 1e-3])
@pytest.mark.parametrize("selector", ["random", "full"])
def test_sparse_adamw_equals_dense_adamw_on_subset(max_grad_norm, selector):
    """Same updates (1e-6) as torch AdamW fed the masked gradient, clipped over the subset
    (full: the word embeddings are an AdamW leaf of their own, every other tensor is flat)."""
    sparse_model = tiny_model()
    sparse_model.train()
    dense_model = copy.deepcopy(sparse_model)
    params = encoder_parameters(sparse_model)
    full = select_full(params, count_parameters(params), 0)
    mask = select_random(params, 300, seed=1) if selector == "random" else full
    optimizer = MaskedAdamW(trained_entries(sparse_model, mask), max_grad_norm=max_grad_norm)

    dense_params = list(dense_model.encoder.parameters()) + list(dense_model.decoder.parameters())
    dense_masks = [mask[n].float() for n, _ in dense_model.encoder.named_parameters()]
    dense_masks += [torch.ones_like(p) for p in dense_model.decoder.parameters()]
    reference = torch.optim.AdamW(dense_params, lr=1.0, weight_decay=0.0, foreach=False)
    for step in range(5):
        lr = 1e-2 * (step + 1)
        batch = random_batch(step)
        torch.manual_seed(step)
        task_loss(sparse_model, batch).backward()
        optimizer.step(lr)
        optimizer.zero_grad()
        torch.manual_seed(step)  # same dropout masks
        task_loss(dense_model, batch).backward()
        for p, m in zip(dense_params, dense_masks):
            p.grad.mul_(m)
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(dense_params, max_grad_norm)
        for group in reference.param_groups:
            group["lr"] = lr
        reference.step()
        reference.zero_grad()
    for (name, a), b in zip(sparse_model.named_parameters(), dense_model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6, msg=name)


def test_optimizer_state_proportional_to_k():
    model = tiny_model()
    params = encoder_parameters(model)
    small = MaskedAdamW([TrainedEntries(p, torch.arange(10)) for p in list(params.values())[:1]])
    large = MaskedAdamW([TrainedEntries(p, torch.arange(1000)) for p in list(params.values())[:1]])
    assert small.state_bytes == 10 * (4 + 4 + 8) and large.state_bytes == 1000 * (4 + 4 + 8)


def test_non_finite_gradient_skips_update():
    param = torch.nn.Parameter(torch.ones(4))
    optimizer = MaskedAdamW([TrainedEntries(param, torch.tensor([1, 2]))])
    param.grad = torch.tensor([0.0, float("nan"), 1.0, 0.0])
    assert math.isnan(optimizer.step(0.1))
    assert torch.equal(param.data, torch.ones(4))


@pytest.mark.parametrize("selector", ["random", "bitfit"])
def test_unselected_entries_bit_identical_after_training(study_data, selector):
    model = tiny_model(seed=4)
    before = {n: p.detach().clone() for n, p in model.encoder.named_parameters()}
    params = encoder_parameters(model)
    mask = select_random(params, 200, seed=0) if selector == "random" else select_bitfit(params, bitfit_k(params), 0)
    data = load_task("sst2", study_data)
    encoded = encode(data.train, data.spec, load_tokenizer("tiny-random"), 32)
    result = train_masked(model, mask, encoded, Schedule(epochs=2, batch_size=8, learning_rate=0.05), seed=0,
                          pad_token_id=0, progress=False)
    assert not result.fit.diverged and result.fit.steps == 2 * math.ceil(len(encoded) / 8)
    changed = 0
    for name, p in model.encoder.named_parameters():
        frozen = ~mask[name]
        assert torch.equal(p.detach()[frozen], before[name][frozen]), name  # bit-identical
        changed += int((p.detach()[mask[name]] != before[name][mask[name]]).sum())
    assert changed > 0  # (selected embedding rows of tokens absent from the data get no gradient)


def train_plainly(model, mask, encoded, schedule: Schedule, seed: int) -> None:
    """`train_masked` written out with torch alone: every gradient dense and multiplied by the
    mask, `clip_grad_norm_` and `torch.optim.AdamW` over every parameter, the same batches,
    learning rates and dropout draws."""
    model.train()
    torch.manual_seed(seed)
    params = list(model.encoder.parameters()) + list(model.decoder.parameters())
    masks = [mask[n].float() for n, _ in model.encoder.named_parameters()]
    masks += [torch.ones_like(p) for p in model.decoder.parameters()]
    optimizer = torch.optim.AdamW(params, lr=schedule.learning_rate, weight_decay=0.0, foreach=False)
    total = schedule.epochs * math.ceil(len(encoded) / schedule.batch_size)
    step = 0
    for epoch in range(schedule.epochs):
        for indices in iterate_batches(encoded, schedule.batch_size, shuffle=True, sort_by_length=True,
                                       seed=seed * 1000 + epoch):
            task_loss(model, collate([encoded[i] for i in indices], 0)).backward()
            for p, m in zip(params, masks):
                p.grad.mul_(m)
            torch.nn.utils.clip_grad_norm_(params, schedule.max_grad_norm)
            for group in optimizer.param_groups:
                group["lr"] = linear_warmup_lr(step, total, schedule.learning_rate, schedule.warmup_fraction)
            optimizer.step()
            optimizer.zero_grad()
            step += 1
    model.eval()


@pytest.mark.parametrize("selector", ["random 1e-3", "bitfit"])
def test_training_run_equals_plain_torch_training(study_data, selector):
    """A whole train_masked run (flat optimizer, selected-entry gradients, clipping active)
    ends where the plain torch loop does: unselected entries untouched in both, trained
    entries within 1% of one Adam step (lr 1e-3; summation orders differ, see test_sparse_grad)."""
    model = tiny_model(seed=4)
    plain = copy.deepcopy(model)
    params = encoder_parameters(model)
    if selector == "bitfit":
        mask = select_bitfit(params, bitfit_k(params), 0)
    else:
        mask = select_random(params, subset_k(params, 1e-3), seed=0)
        for n in mask:  # zero gradient in exact arithmetic, see test_sparse_grad.assert_same_training
            if n.endswith("key.bias"):
                mask[n].zero_()
    data = load_task("sst2", study_data)
    encoded = encode(data.train, data.spec, load_tokenizer("tiny-random"), 32)
    schedule = Schedule(epochs=2, batch_size=8, learning_rate=1e-3)
    result = train_masked(model, mask, encoded, schedule, seed=0, pad_token_id=0, progress=False)
    train_plainly(plain, mask, encoded, schedule, seed=0)
    assert result.fit.steps == 2 * math.ceil(len(encoded) / 8)
    for (name, a), b in zip(model.encoder.named_parameters(), plain.encoder.parameters()):
        assert torch.equal(a.detach()[~mask[name]], b.detach()[~mask[name]]), name
        torch.testing.assert_close(a.detach()[mask[name]], b.detach()[mask[name]], rtol=1e-5, atol=1e-5, msg=name)
    for a, b in zip(model.decoder.parameters(), plain.decoder.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("total,fraction", [(10, 0.1), (100, 0.1), (7, 0.5), (50, 0.0)])
def test_schedule_matches_transformers(total, fraction):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.3)
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(fraction * total), total)
    for step in range(total):
        assert linear_warmup_lr(step, total, 0.3, fraction) == pytest.approx(optimizer.param_groups[0]["lr"], abs=1e-12)
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize("kwargs,match", [
    (dict(epochs=0, batch_size=16, learning_rate=1e-3), "epochs"),
    (dict(epochs=1, batch_size=16, learning_rate=0.0), "learning rate"),
    (dict(epochs=1, batch_size=16, learning_rate=float("nan")), "learning rate"),
    (dict(epochs=1, batch_size=16, learning_rate=1e-3, warmup_fraction=1.0), "warmup_fraction"),
])
def test_schedule_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Schedule(**kwargs)
