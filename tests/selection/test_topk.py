"""global_topk_mask: exactly k entries, the k largest overall, ties by (dict order, flat index)."""
from __future__ import annotations

import pytest
import torch

from repro.selection import topk
from repro.selection.topk import global_topk_mask


def random_scores(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "a": torch.randn(7, 5, generator=generator),
        "b": torch.randn(13, generator=generator).abs() * 1e-3,
        "c": torch.randn(2, 3, 4, generator=generator) * 100,
        "d": torch.randn(1, generator=generator),
    }


def brute_force(scores: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """Sort all (-score, tensor position, flat index) triples; the first k win."""
    entries = [(-float(v), position, index) for position, t in enumerate(scores.values())
               for index, v in enumerate(t.reshape(-1).tolist())]
    winners = {(position, index) for _, position, index in sorted(entries)[:k]}
    return {name: torch.tensor([(position, i) in winners for i in range(t.numel())]).view(t.shape)
            for position, (name, t) in enumerate(scores.items())}


def assert_masks_equal(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert list(got) == list(want)
    for name in want:
        assert got[name].dtype == torch.bool and got[name].shape == want[name].shape
        assert torch.equal(got[name], want[name]), name


@pytest.mark.parametrize("k", [1, 2, 10, 37, 60, "all"])
def test_matches_brute_force_sort(k):
    scores = random_scores()
    total = sum(t.numel() for t in scores.values())
    k = total if k == "all" else k
    masks = global_topk_mask(scores, k)
    assert sum(int(m.sum()) for m in masks.values()) == k
    assert_masks_equal(masks, brute_force(scores, k))


@pytest.mark.parametrize("seed", range(5))
def test_many_ties_resolved_by_dict_then_flat_order(seed):
    generator = torch.Generator().manual_seed(seed)
    scores = {name: torch.randint(-2, 3, shape, generator=generator).float()
              for name, shape in [("x", (6, 4)), ("y", (9,)), ("z", (3, 3, 2))]}
    total = sum(t.numel() for t in scores.values())
    for k in (1, 5, total // 2, total - 1, total):
        assert_masks_equal(global_topk_mask(scores, k), brute_force(scores, k))


def test_all_equal_takes_the_first_entries():
    scores = {"first": torch.ones(2, 3), "second": torch.ones(4)}
    masks = global_topk_mask(scores, 8)
    assert masks["first"].all() and masks["second"].tolist() == [True, True, False, False]


def test_tiny_sample_and_special_values(monkeypatch):
    """A 3-score sample (its brackets miss on either side), ties across tensors, infinities,
    signed zeros, denormals, mixed float dtypes."""
    monkeypatch.setattr(topk, "SAMPLE", 3)
    scores = {
        "f32": torch.tensor([0.0, -0.0, float("inf"), -float("inf"), 1e-45, -1e-45, 2.0, 2.0]),
        "f16": torch.tensor([[2.0, -0.0], [0.0, 0.5]], dtype=torch.float16),
        "bf16": torch.tensor([2.0, -3.0], dtype=torch.bfloat16),
    }
    as_float = {name: t.float() + 0.0 for name, t in scores.items()}  # brute force sees -0.0 as 0.0 too
    for k in range(1, 15):
        assert_masks_equal(global_topk_mask(scores, k), brute_force(as_float, k))


def test_adjacent_float32_values_rank_exactly():
    """Values one float32 step apart still rank exactly."""
    base = torch.tensor(1.0)
    close = torch.stack([torch.nextafter(base, torch.tensor(2.0)), base, torch.nextafter(base, torch.tensor(0.0))])
    scores = {"close": close[torch.tensor([1, 2, 0])]}
    assert global_topk_mask(scores, 1)["close"].tolist() == [False, False, True]
    assert global_topk_mask(scores, 2)["close"].tolist() == [True, False, True]


@pytest.mark.parametrize("k", [0, -1, 74])
def test_k_out_of_range_names_k_and_total(k):
    with pytest.raises(ValueError, match=rf"k={k}.* 73 "):
        global_topk_mask(random_scores(), k)


def test_nan_names_the_tensor():
    scores = random_scores()
    scores["c"][1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="'c'"):
        global_topk_mask(scores, 3)


def sorted_reference(scores: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """The plain version: a stable descending sort of all scores concatenated (float32)."""
    flat = torch.cat([t.reshape(-1).float() + 0.0 for t in scores.values()])
    chosen = torch.zeros(len(flat), dtype=torch.bool)
    chosen[torch.sort(flat, descending=True, stable=True).indices[:k]] = True
    parts = chosen.split([t.numel() for t in scores.values()])
    return {name: part.view(t.shape) for (name, t), part in zip(scores.items(), parts)}


def large_scores(seed: int, ties: bool) -> dict[str, torch.Tensor]:
    """About 3 x topk.SAMPLE scores over tensors of several shapes and dtypes (the sampling path)."""
    generator = torch.Generator().manual_seed(seed)
    shapes = {"emb": (300, 256), "w": (256, 256), "b": (256,), "half": (512, 64), "double": (10, 10)}
    scores = {}
    for name, shape in shapes.items():
        if ties:
            values = torch.randint(0, 50, shape, generator=generator).float()
        else:
            values = torch.randn(shape, generator=generator).exp()
        scores[name] = values.to({"half": torch.float16, "double": torch.float64}.get(name, torch.float32))
    return scores


@pytest.mark.parametrize("ties", [False, True])
def test_sampled_bracket_equals_sorting(ties):
    scores = large_scores(1, ties)
    total = sum(t.numel() for t in scores.values())
    assert total > 2 * topk.SAMPLE
    for k in (1, 7, 1000, total // 3, total // 2, total - 5, total):
        assert_masks_equal(global_topk_mask(scores, k), sorted_reference(scores, k))


@pytest.mark.parametrize("ties", [False, True])
def test_missed_brackets_are_widened(monkeypatch, ties):
    """A zero-width bracket from an 8-score sample misses for most k; the answer stays exact."""
    monkeypatch.setattr(topk, "SAMPLE", 8)
    monkeypatch.setattr(topk, "_SPREAD", 0.0)
    scores = large_scores(2, ties)
    total = sum(t.numel() for t in scores.values())
    for k in (1, 2, 50, total // 10, total // 2, total - 1, total):
        assert_masks_equal(global_topk_mask(scores, k), sorted_reference(scores, k))
