"""L1/L2 penalties toward theta_0: their gradients, their place before clipping, bad input."""
from __future__ import annotations

import copy

import pytest
import torch

from repro.training.masked_adamw import MaskedAdamW, TrainedEntries
from repro.models import DecoderSpec, build_task_model, encoder_parameters
from repro.training.penalties import Penalty, Regularization
from repro.selection.selectors import count_parameters, select_full, select_random
from repro.training.trainer import task_loss, trained_entries


def autograd_penalty_gradient(kind: str, strength: float, theta: torch.Tensor, theta0: torch.Tensor) -> torch.Tensor:
    leaf = theta.clone().requires_grad_(True)
    delta = leaf - theta0
    value = strength * (delta.abs().sum() if kind == "l1" else delta.square().sum())
    value.backward()
    return leaf.grad


@pytest.mark.parametrize("kind", ["l1", "l2"])
@pytest.mark.parametrize("strength", [0.01, 0.1, 1.0])
def test_penalty_gradient_equals_autograd_of_the_penalty(kind, strength):
    theta0 = torch.randn(50, generator=torch.Generator().manual_seed(0))
    leaf = torch.nn.Parameter(theta0.clone())
    penalty = Penalty(Regularization(kind, strength), [TrainedEntries(leaf)])
    with torch.no_grad():
        leaf.add_(torch.randn(50, generator=torch.Generator().manual_seed(1)))
        leaf[:5] = theta0[:5]  # delta exactly 0: both give gradient 0 there
    grad = torch.full_like(leaf, 0.5)
    penalty.add_gradients([grad])
    expected = 0.5 + autograd_penalty_gradient(kind, strength, leaf.detach(), theta0)
    torch.testing.assert_close(grad, expected, rtol=0, atol=1e-7)
    assert torch.equal(grad[:5], torch.full((5,), 0.5))


def test_penalty_of_selected_entries_reads_them_in_index_order():
    param = torch.nn.Parameter(torch.zeros(2, 3))
    penalty = Penalty(Regularization("l2", 1.0), [TrainedEntries(param, torch.tensor([4, 1]))])
    with torch.no_grad():
        param.view(-1)[torch.tensor([1, 4])] = torch.tensor([3.0, -1.0])
    grad = torch.zeros(2)
    penalty.add_gradients([grad])
    assert torch.equal(grad, torch.tensor([-2.0, 6.0])) and penalty.value() == pytest.approx(10.0)


def test_penalty_values_by_hand():
    leaf = torch.nn.Parameter(torch.zeros(3))
    entries = [TrainedEntries(leaf)]
    l1, l2 = Penalty(Regularization("l1", 0.1), entries), Penalty(Regularization("l2", 0.1), entries)
    with torch.no_grad():
        leaf.copy_(torch.tensor([1.0, -2.0, 0.0]))
    assert l1.value() == pytest.approx(0.1 * 3.0) and l2.value() == pytest.approx(0.1 * 5.0)
    assert l1.regularization.label == "l1:0.1"


def test_penalty_starts_at_zero_gradient():
    leaf = torch.nn.Parameter(torch.ones(4))
    penalty = Penalty(Regularization("l2", 1.0), [TrainedEntries(leaf)])
    grad = torch.zeros(4)
    penalty.add_gradients([grad])
    assert torch.equal(grad, torch.zeros(4))


@pytest.mark.parametrize("kind", ["l1", "l2"])
@pytest.mark.parametrize("selector", ["random", "full"])
def test_masked_adamw_with_penalty_equals_dense_adamw_on_loss_plus_penalty(kind, selector):
    """The penalty joins the loss before clipping: same as autograd of task loss + penalty
    (full: the word embeddings are a leaf of their own, the rest is in the flat buffer)."""
    model = build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0).train()
    dense = copy.deepcopy(model)
    params = encoder_parameters(model)
    full = select_full(params, count_parameters(params), 0)
    mask = select_random(params, 400, seed=3) if selector == "random" else full
    entries = trained_entries(model, mask)
    decoder = {id(p) for p in model.decoder.parameters()}
    penalty = Penalty(Regularization(kind, 0.5), [e for e in entries if id(e.param) not in decoder])
    optimizer = MaskedAdamW(entries, max_grad_norm=1.0, penalty=penalty)

    encoder0 = {n: p.detach().clone() for n, p in dense.encoder.named_parameters()}
    masks = {n: mask[n].float() for n in encoder0}
    params = list(dense.encoder.parameters()) + list(dense.decoder.parameters())
    reference = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.0)
    g = torch.Generator().manual_seed(0)
    for step in range(4):
        ids = torch.randint(1, 1000, (4, 7), generator=g)
        batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.randint(0, 2, (4,), generator=g)}
        torch.manual_seed(step)
        task_loss(model, batch).backward()
        optimizer.step(1e-2)
        optimizer.zero_grad()
        torch.manual_seed(step)
        loss = task_loss(dense, batch)
        for name, p in dense.encoder.named_parameters():
            delta = (p - encoder0[name]) * masks[name]
            loss = loss + 0.5 * (delta.abs().sum() if kind == "l1" else delta.square().sum())
        loss.backward()
        for name, p in dense.encoder.named_parameters():
            p.grad.mul_(masks[name])
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        reference.step()
        reference.zero_grad()
    for (name, a), b in zip(model.named_parameters(), dense.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("kind, strength, message", [("l3", 0.1, "'l3' is not one of"), ("l1", 0.0, "positive"),
                                                      ("l2", float("nan"), "positive"), ("l1", -1.0, "positive")])
def test_bad_regularization_is_rejected(kind, strength, message):
    with pytest.raises(ValueError, match=message):
        Regularization(kind, strength)


def test_unpenalised_entries_only_get_the_task_gradient():
    leaf, other = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    entries = [TrainedEntries(leaf), TrainedEntries(other)]
    penalty = Penalty(Regularization("l1", 1.0), entries[:1])  # theta_0 = 0
    with torch.no_grad():
        leaf.fill_(1.0)
        other.fill_(1.0)
    optimizer = MaskedAdamW(entries, max_grad_norm=None, penalty=penalty)
    leaf.grad, other.grad = torch.zeros(2), torch.zeros(2)
    optimizer.step(0.1)  # Adam's first step moves an entry by lr * sign(gradient)
    torch.testing.assert_close(leaf.detach(), torch.full((2,), 0.9))
    assert torch.equal(other.detach(), torch.ones(2))


def test_penalty_over_entries_the_optimizer_does_not_train_is_rejected():
    leaf, other = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="penalty covers entries"):
        MaskedAdamW([TrainedEntries(leaf)], penalty=Penalty(Regularization("l1", 1.0), [TrainedEntries(other)]))
