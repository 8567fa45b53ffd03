"""Masking, the MLM decoder fitted on a frozen encoder, and the combined score (eq. 3)."""
from __future__ import annotations

import torch

from repro.data import IGNORE_INDEX
from repro.selection.mlm_decoder import MLMConfig, chunk_text, fit_mlm_head, mask_tokens, mlm_model, precision_at_1
from repro.models import load_encoder, load_tokenizer
from repro.selection.selectors import combined_scores, mask_size, select_combined, select_largest_pretrain_sqgrad

TEXT = ["the castle stands on a hill above the river and the town grew around its walls"] * 40


def sequences():
    return chunk_text(TEXT, load_tokenizer("tiny-random"), max_length=32)


def test_chunks_are_framed_and_bounded():
    tokenizer = load_tokenizer("tiny-random")
    chunks = sequences()
    assert chunks and all(len(c) <= 32 and c[0] == tokenizer.cls_token_id and c[-1] == tokenizer.sep_token_id
                          for c in chunks)


def test_masking_is_deterministic_and_labels_only_masked_positions():
    tokenizer = load_tokenizer("tiny-random")
    chunks = sequences()
    first, again, other = (mask_tokens(chunks, tokenizer, 0.15, seed) for seed in (0, 0, 1))
    assert first == again and first != other
    for example, ids in zip(first, chunks):
        labelled = [t for t, label in enumerate(example.label) if label != IGNORE_INDEX]
        assert len(labelled) == max(1, round(0.15 * (len(ids) - 2)))
        assert all(example.label[t] == ids[t] for t in labelled)
        assert 0 not in labelled and len(ids) - 1 not in labelled  # specials are never masked
        assert all(example.input_ids[t] == ids[t] for t in range(len(ids)) if t not in labelled)
    masked = sum(e.input_ids[t] == tokenizer.mask_token_id for e in first for t, l in enumerate(e.label) if l != -100)
    chosen = sum(label != IGNORE_INDEX for e in first for label in e.label)
    assert 0.6 < masked / chosen < 0.95  # about 80% become [MASK]


def test_fitting_the_head_leaves_the_encoder_and_learns():
    tokenizer = load_tokenizer("tiny-random")
    examples = mask_tokens(sequences(), tokenizer, 0.15, seed=0)
    model = mlm_model(load_encoder("tiny-random"), len(tokenizer), seed=0)
    before = {n: p.detach().clone() for n, p in model.encoder.named_parameters()}
    start = precision_at_1(model, examples, pad_token_id=tokenizer.pad_token_id)
    fit_mlm_head(model, examples, MLMConfig(epochs=30, batch_size=8), pad_token_id=tokenizer.pad_token_id, seed=0,
                 progress=False)
    assert precision_at_1(model, examples, pad_token_id=tokenizer.pad_token_id) > max(0.3, start)
    assert all(torch.equal(p, before[n]) for n, p in model.encoder.named_parameters())


class Stats:
    def __init__(self, downstream, pretraining):
        self.scores = downstream, pretraining

    def downstream(self):
        return self.scores[0]

    def pretraining(self):
        return self.scores[1]


def test_combined_score_is_equation_3_and_selects_exactly_k():
    downstream = {"a": torch.tensor([4.0, 1.0, 9.0]), "b": torch.tensor([[2.0, 0.0]])}
    pretraining = {"a": torch.tensor([1.0, 0.0, 8.0]), "b": torch.tensor([[0.0, 5.0]])}
    scores = combined_scores(downstream, pretraining)
    assert torch.equal(scores["a"], torch.tensor([2.0, 1.0, 1.0])) and torch.equal(scores["b"], torch.tensor([[2.0, 0.0]]))
    params = {"a": torch.zeros(3), "b": torch.zeros(1, 2)}
    mask = select_combined(params, 2, 0, Stats(downstream, pretraining))
    assert mask_size(mask) == 2 and mask["a"].tolist() == [True, False, False] and mask["b"].tolist() == [[True, False]]
    pretrain_mask = select_largest_pretrain_sqgrad(params, 1, 0, Stats(downstream, pretraining))
    assert pretrain_mask["a"].tolist() == [False, False, True]
