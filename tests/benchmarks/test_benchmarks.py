"""The benchmarks: the speed benchmark's step variants compute the same updates as their plain
versions, the shared timing and table helpers measure and print what they say, and every script
runs on a small case (`benchmarks/speed.py --quick` prints every row; no timing asserts)."""
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

from benchmarks import sparse_crossover, steps, throughput, topk_probe  # noqa: E402
from benchmarks.report import markdown_table, verdict  # noqa: E402
from benchmarks.selection import normwise_difference, relative_difference  # noqa: E402
from benchmarks.timing import Laps, median_seconds, quartiles, round_robin, timed_calls  # noqa: E402
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


def test_timed_calls_read_the_given_clock_once_before_and_after_each_call():
    ticks, calls = iter(range(1000)), []
    now = lambda: float(next(ticks)) ** 2  # noqa: E731 - each call lasts longer than the one before
    timed = timed_calls({name: (lambda r, name=name: calls.append((name, r))) for name in "ab"}, lambda: None,
                        warmup=1, repeats=3, now=now)
    assert sorted(calls) == [(name, r) for name in "ab" for r in range(4)]  # the repetition index is passed on
    assert {name: len(seconds) for name, seconds in timed.items()} == {"a": 3, "b": 3}
    assert all(s > 0 for seconds in timed.values() for s in seconds)
    medians = median_seconds({"a": lambda r: None}, lambda: None, warmup=0, repeats=3,
                             now=iter([0, 1, 1, 3, 3, 7]).__next__)
    assert medians == {"a": 2}  # of 1, 2 and 4 seconds


def test_laps_record_each_phase_in_order():
    synced = []
    laps = Laps(lambda: synced.append(1))
    for name in ("forward", "backward", "optimizer"):
        laps.mark(name)
    assert list(laps.phases) == ["forward", "backward", "optimizer"] and all(s >= 0 for s in laps.phases.values())
    assert len(synced) == 4  # before the start and before every mark


def test_markdown_table():
    assert markdown_table(["name", "x"], [["a", 1.5], ["b", 2]], "lr") == [
        "| name | x |", "|---|---:|", "| a | 1.5 |", "| b | 2 |"]
    with pytest.raises(ValueError, match="align 'lc'"):
        markdown_table(["name", "x"], [], "lc")
    with pytest.raises(ValueError, match="2 columns"):
        markdown_table(["name", "x"], [], "l")


def test_sparse_crossover_tables_on_a_tiny_model(tmp_path, capsys):
    rows = sparse_crossover.measure_steps("tiny-random", subsets=(1e-2,), repeats=1, n_batches=2, data_dir=tmp_path)
    assert rows[0]["subset"] == "0.01" and rows[0]["on_path"] > 0
    assert rows[0]["sparse/full"] == pytest.approx(rows[0]["sparse_ms"] / rows[0]["full_fb_ms"])
    crossover = sparse_crossover.crossover_table(repeats=1, tokens=(8,))
    assert [row["shape"] for row in crossover] == ["384x384", "1536x384", "384x1536"]
    sparse_crossover._print(rows)
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| subset | k | on_path |") and table[1].startswith("|---|---:|---:|")
    assert table[2].startswith("| 0.01 |")


def test_topk_probe_times_every_repetition():
    scores = {"a": torch.rand(50), "b": torch.rand(7, 10)}
    result = topk_probe.measure(scores, k=12, warmup=1, repeats=2)
    assert result["k"] == 12 and len(result["seconds"]) == 2 and result["peak_extra_bytes"] >= 0


def test_throughput_table():
    config = throughput.ThroughputConfig(combinations=((1, 1), (2, 1)), runs=2, rounds=1)
    measured = [throughput.Measurement(1, 1, 1, 36.0, [10.0, 20.0], 0, "0.5 -> 0.7"),
                throughput.Measurement(2, 1, 1, 18.0, [10.0, 12.0], 1, "0.7 -> 1.2")]
    text = throughput.markdown(measured, config)
    assert "| 1x1 | 1 | 36.0 | 200 | 15.00 | 240 | 0 | 0.5 -> 0.7 |" in text
    assert "| 2x1 | 400 | 655 |" in text and "Highest steady rate: 2x1" in text


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
