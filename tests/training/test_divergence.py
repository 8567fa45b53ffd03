"""The divergence rule: finite losses that end far above the start count as diverged."""
from __future__ import annotations

import pytest
import torch

from repro.training.divergence import DivergenceRule
from repro.training.loop import Schedule, fit
from repro.training.masked_adamw import MaskedAdamW, TrainedEntries


@pytest.mark.parametrize("losses, diverged", [
    ([0.7] + [0.5] * 20, False),                       # learned
    ([0.7] + [0.69] * 20, False),                      # stayed at chance
    ([0.7, 3.0, 9.0] + [0.8] * 18, False),             # a spike early on, then back: judged by the end
    ([0.7] + [0.9] * 18 + [1.1, 1.1], False),          # 1.57x over the last 2 steps, 1.4x over the final 5 (10% but at least 5)
    ([0.7] + [0.9] * 18 + [1.5, 1.5], True),           # 1.63x over the final 5
    ([0.7] + [2.0] * 20, True),                        # 2.9x
    ([0.75] + [1.6e6] * 20, True),                     # learning rate 1e3
])
def test_rule_on_known_curves(losses, diverged):
    verdict = DivergenceRule().judge(losses)
    assert verdict.diverged is diverged
    assert verdict.record()["factor"] == 1.5 and verdict.record()["start_loss"] == losses[0]


def test_the_final_window_is_a_tenth_of_the_steps_but_at_least_five():
    rule = DivergenceRule(factor=1.5, final_fraction=0.1, min_window=5)
    assert rule.judge([1.0] * 95 + [3.0] * 5).final_loss == 2.0                # 100 steps: window 10
    assert rule.judge([1.0] * 90 + [3.0] * 10).final_loss == 3.0
    assert rule.judge([1.0] * 15 + [3.0] * 5).final_loss == 3.0                # 20 steps: window 5, not 2
    assert rule.judge([1.0] * 190 + [3.0] * 10).final_loss == 2.0              # 200 steps: window 20


def test_runs_shorter_than_min_steps_are_not_judged():
    verdict = DivergenceRule(min_steps=10).judge([0.7] + [9.0] * 8)
    assert not verdict.diverged and not verdict.record()["judged"]
    assert DivergenceRule(min_steps=10).judge([0.7] + [9.0] * 9).diverged


@pytest.mark.parametrize("kwargs", [{"factor": 1.0}, {"factor": float("inf")}, {"final_fraction": 0.0},
                                    {"min_window": 0}, {"min_steps": 0}])
def test_bad_rules_are_refused(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        DivergenceRule(**kwargs)


def test_fit_reports_a_finite_blow_up_as_diverged_with_the_rule_values():
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(4, 2))
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    optimizer = MaskedAdamW([TrainedEntries(weight)], max_grad_norm=5.0)

    def loss_of_batch(batch):
        return torch.nn.functional.cross_entropy(batch[0] @ weight, batch[1])

    def batches(epoch):
        return [(x[i:i + 8], y[i:i + 8]) for i in range(0, 64, 8)]

    result = fit(loss_of_batch, batches, 8, optimizer, Schedule(5, 8, 1e3), progress=False)
    assert all(torch.isfinite(torch.tensor(result.step_losses)))
    assert result.diverged and "first step" in result.reason
    assert result.divergence["ratio"] > 1.5 and result.divergence["diverged"]
    calm = torch.nn.Parameter(torch.zeros(4, 2))
    calm_result = fit(lambda b: torch.nn.functional.cross_entropy(b[0] @ calm, b[1]), batches, 8,
                      MaskedAdamW([TrainedEntries(calm)], max_grad_norm=5.0), Schedule(5, 8, 1e-2), progress=False)
    assert not calm_result.diverged and calm_result.reason is None
