"""Masked-language-modelling pieces: masking, a two-layer MLP decoder fitted on a frozen encoder,
and the MLM model that pretraining gradient statistics are taken through.

minilm-l6 ships without an MLM decoder, so one is fitted on the frozen encoder (Table 5's
recipe: 4 epochs, lr 2e-3, batch 64 sequences, weight decay 0.05, constant rate) before its
pretraining squared gradients can be computed; the same is done for every model, so all
models are treated alike (roberta-base's own pretrained decoder is not used).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from repro.data.encoding import IGNORE_INDEX, EncodedExample
from repro.training.decoder_first import feature_batches, decoder_inputs
from repro.models import DecoderSpec, TaskModel


@dataclass(frozen=True)
class MLMConfig:
    """Table 5 plus the masking recipe of BERT (15%; of those 80% [MASK], 10% random, 10% kept)."""

    epochs: int = 4
    learning_rate: float = 2e-3
    batch_size: int = 64
    weight_decay: float = 0.05
    mask_fraction: float = 0.15
    max_length: int = 128


def chunk_text(paragraphs: list[str], tokenizer, max_length: int) -> list[list[int]]:
    """Token ids of the concatenated paragraphs, cut into sequences of max_length framed by the
    tokenizer's classification and separator tokens ([CLS] ... [SEP], <s> ... </s>); a last
    piece shorter than 8 tokens is dropped."""
    ids = [i for text in paragraphs for i in tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]]
    body = max_length - 2
    return [[tokenizer.cls_token_id, *ids[start:start + body], tokenizer.sep_token_id]
            for start in range(0, len(ids), body) if len(ids[start:start + body]) >= 8]


def mask_tokens(sequences: list[list[int]], tokenizer, mask_fraction: float, seed: int) -> list[EncodedExample]:
    """Deterministic masking: at least one non-special position per sequence is chosen; chosen
    positions carry their original id as label (-100 elsewhere) and become [MASK] (80%), a
    random token (10%) or stay (10%)."""
    rng = random.Random(seed)
    special = set(tokenizer.all_special_ids)
    examples = []
    for ids in sequences:
        candidates = [t for t, token in enumerate(ids) if token not in special]
        chosen = rng.sample(candidates, max(1, round(mask_fraction * len(candidates))))
        inputs, labels = list(ids), [IGNORE_INDEX] * len(ids)
        for t in chosen:
            labels[t] = ids[t]
            roll = rng.random()
            if roll < 0.8:
                inputs[t] = tokenizer.mask_token_id
            elif roll < 0.9:
                inputs[t] = rng.randrange(tokenizer.vocab_size)
        examples.append(EncodedExample(inputs, labels))
    return examples


class MLMDecoder(nn.Module):
    """Two-layer MLP: dense, GELU, LayerNorm, then a projection onto the vocabulary."""

    def __init__(self, hidden: int, vocab: int):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.norm(F.gelu(self.dense(states))))


def mlm_model(encoder: nn.Module, vocab: int, seed: int) -> TaskModel:
    """A token-level TaskModel whose decoder is a fresh MLMDecoder (initialised from `seed`)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return TaskModel(encoder, DecoderSpec("token", vocab), MLMDecoder(encoder.config.hidden_size, vocab))


def fit_mlm_head(model: TaskModel, examples: list[EncodedExample], config: MLMConfig, *, pad_token_id: int,
                 seed: int, device: str = "cpu", progress: bool = True) -> float:
    """Train `model.decoder` on the frozen encoder's states at the masked positions (the encoder
    is untouched); returns the last epoch's mean loss."""
    features, labels = decoder_inputs(model, examples, pad_token_id=pad_token_id, device=device)
    decoder = model.decoder.to(device).train()
    optimizer = torch.optim.AdamW(decoder.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps = math.ceil(len(examples) / config.batch_size)
    last = float("nan")
    with tqdm(total=steps * config.epochs, desc="mlm decoder", disable=not progress, leave=False, mininterval=10.0) as bar:
        for epoch in range(config.epochs):
            total = 0.0
            for x, y in feature_batches(features, labels, config.batch_size, seed, epoch):
                loss = F.cross_entropy(decoder(x.to(device)), y.to(device))
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                total += loss.item()
                bar.update(1)
            last = total / steps
    decoder.eval()
    return last


@torch.no_grad()
def precision_at_1(model: TaskModel, examples: list[EncodedExample], *, pad_token_id: int, device: str = "cpu") -> float:
    """Share of masked positions whose original token is the model's top prediction."""
    features, labels = decoder_inputs(model, examples, pad_token_id=pad_token_id, device=device)
    x, y = torch.cat(features).to(device), torch.cat(labels).to(device)
    return float((model.decoder.to(device)(x).argmax(-1) == y).float().mean())
