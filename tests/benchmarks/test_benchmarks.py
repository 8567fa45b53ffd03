"""The speed benchmark: its step variants compute the same updates as their plain versions, its
helpers measure what they say, and `benchmarks/speed.py --quick` prints every row (no timing asserts)."""
from __future__ import annotations

import copy
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # `benchmarks` is a folder of scripts beside the package, not installed

from benchmarks import steps  # noqa: E402
from benchmarks.report import verdict  # noqa: E402
from benchmarks.selection import normwise_difference, relative_difference  # noqa: E402
from benchmarks.timing import quartiles, round_robin  # noqa: E402
from benchmarks.topk_probe import EncoderShape, parameter_shapes  # noqa: E402
from repro.data import SequenceExample, TASKS, collate, encode  # noqa: E402
from repro.models import DecoderSpec, build_task_model, encoder_parameters, load_tokenizer  # noqa: E402
from repro.selection.selectors import select_full, select_random, subset_k  # noqa: E402


@pytest.fixture(scope="module")
def batches():
    tokenizer = load_tokenizer("tiny-random")
    words = "the film was good bad long short dull and new".split()
    examples = [SequenceExample(" ".join(words[(i * 3 + j) % len(words)] for j in range(3 + i % 7)), i % 2)
                for i in range(24)]
    encoded = encode(examples, TASKS["sst2"], tokenizer, 64)
    return [collate(encoded[i:i + 8], tokenizer.pad_token_id) for i in range(0, 24, 8)]


def run_steps(variant: steps.StepVariant, batches) -> dict[str, torch.Tensor]:
    for r, batch in enumerate(batches):
        torch.manual_seed(r)  # the same dropout masks in every variant
        variant.run(batch, lambda: None)
    return {name: p.detach().clone() for name, p in variant.model.named_parameters()}


def assert_same_parameters(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert list(got) == list(want)
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-5, atol=1e-7, msg=lambda m, n=name: f"{n}: {m}")


def test_masked_step_equals_the_dense_mask_baseline(batches):
    """repro's masked step (state for k entries) updates exactly as dense AdamW on the masked gradient."""
    base = build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0)
    params = encoder_parameters(base)
    mask = select_random(params, subset_k(params, 1e-2), seed=0)
    dense = run_steps(steps.dense_mask(copy.deepcopy(base).train(), mask, "dense mask"), batches)
    for sparse_grads in (True, False):
        with ExitStack() as stack:
            variant = steps.masked(copy.deepcopy(base).train(), mask, "masked", stack, sparse_grads=sparse_grads)
            masked = run_steps(variant, batches)
        assert_same_parameters(masked, dense)
    for name, p in params.items():
        changed = masked["encoder." + name] != p
        assert not (changed & ~mask[name]).any(), name
    assert any((masked["encoder." + n] != p).any() for n, p in params.items())


def test_full_step_equals_the_masked_step_over_everything(batches):
    base = build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0)
    params = encoder_parameters(base)
    everything = select_full(params, sum(p.numel() for p in params.values()), seed=0)
    full = run_steps(steps.full(copy.deepcopy(base).train()), batches)
    with ExitStack() as stack:
        masked = run_steps(steps.masked(copy.deepcopy(base).train(), everything, "all", stack), batches)
    assert_same_parameters(masked, full)


def test_state_bytes():
    base = build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0)
    params = encoder_parameters(base)
    total = sum(p.numel() for p in base.parameters())
    assert steps.dense_adamw_bytes(base) == 8 * total
    assert steps.full(copy.deepcopy(base)).state_bytes == 8 * total
    k = subset_k(params, 1e-3)
    variant = steps.masked(copy.deepcopy(base), select_random(params, k, seed=0), "masked", ExitStack())
    decoder = sum(p.numel() for p in base.decoder.parameters())
    assert variant.trained == k + decoder
    assert 8 * (k + decoder) < variant.state_bytes <= 16 * (k + decoder)  # two float32 moments, int64 indices
    dense = steps.dense_mask(copy.deepcopy(base), select_random(params, k, seed=0), "dense")
    assert dense.state_bytes == 8 * total + sum(p.numel() for p in params.values())  # + bool masks


def test_build_variants_lists_every_row():
    base = build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0)
    with ExitStack() as stack:
        variants = steps.build_variants(base, steps.StepPlan(), "cpu", stack)
        assert any("forward" in m.__dict__ for v in variants for m in v.model.modules())  # sparse_grad is on
    assert not any("forward" in m.__dict__ for v in variants for m in v.model.modules())  # and off again
    assert [v.kind for v in variants] == (["floor"] + ["masked"] * 4 + ["masked, dense grads", "masked", "full",
                                                                         "dense-mask", "lora"])
    assert all(v.model is not base for v in variants)
    assert [v.fraction for v in variants[1:6]] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1e-3], rel=1e-2)


def test_round_robin_runs_each_task_once_per_repetition_and_drops_warmup():
    calls = []
    tasks = {name: (lambda r, name=name: calls.append((r, name)) or {"total": float(r)}) for name in "abcd"}
    timed = round_robin(tasks, warmup=2, repeats=6, progress=False)
    orders = [[name for r, name in calls if r == rep] for rep in range(8)]
    assert all(sorted(order) == list("abcd") for order in orders)
    assert len({tuple(order) for order in orders}) > 1  # shuffled, not one fixed sequence
    totals = {name: [p["total"] for p in runs] for name, runs in timed.items()}
    assert totals == {name: [2.0, 3.0, 4.0, 5.0, 6.0, 7.0] for name in "abcd"}


def test_differences():
    want = {"a": torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64), "noise": torch.tensor([1e-30, 0.0])}
    got = {"a": torch.tensor([1.0, 2.0 + 2e-6, 4.0], dtype=torch.float64), "noise": torch.tensor([3e-30, 1e-31])}
    assert relative_difference(got, want) == pytest.approx(1e-6, rel=1e-3)
    assert normwise_difference(got, want) == pytest.approx(5e-7, rel=1e-3)


def test_verdict():
    assert verdict(1.05, 1.10, "x") == "met"
    assert verdict(1.25, 1.10, "x") == "missed by 0.15x"
    assert verdict(2.5, 3.0, "x", at_most=False) == "missed by 0.5x"
    assert quartiles([1.0, 2.0, 3.0, 4.0, 5.0])[1] == 3.0


def test_probe_shapes_are_roberta_base_without_pooler():
    assert sum(torch.Size(s).numel() for s in parameter_shapes(EncoderShape()).values()) == 124_055_040


def test_speed_quick_prints_every_row():
    command = [sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--quick", "--no-progress", "--threads", "1"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    table = done.stdout
    for row in ["| forward+backward floor |", "masked step, random 0.0001", "masked step, random 0.001 ",
                "masked step without sparse_grad, random 0.001",
                "masked step, random 0.01 ", "masked step, random 0.1 ", "masked step, BitFit",
                "full fine-tuning (dense AdamW)", "dense-mask baseline, random 0.001", "LoRA rank 4",
                "data pipeline per batch", "Fisher scoring, per-sample loop", "Fisher scoring, batched",
                "global top-k", "## Goals", "## Where a step's time goes", "- CPU:", "torch threads", "Batches: "]:
        assert row in table, row
    goals = table.split("## Goals")[1].split("## Where")[0]
    assert goals.count("| met |") + goals.count("| missed by") == 7
