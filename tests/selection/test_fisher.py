"""Empirical Fisher: the batched path (one backward per batch) equals the per-sample loop, which equals eq. 2 by hand."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from repro.data import TASKS, EncodedExample, SequenceExample, TokenExample, collate, encode
from repro.selection.fisher import empirical_fisher, empirical_fisher_loop, sample_loss
from repro.models import DecoderSpec, build_task_model, encoder_parameters, load_tokenizer

WORDS = "the film was good bad long short dull Paris lives John in and".split()
N_SAMPLES, BATCH_SIZE = 7, 3  # the batch size does not divide N


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tiny-random")


def sentences(n: int) -> list[list[str]]:
    """Sentences of different lengths (2..11 words), so padding matters."""
    return [[WORDS[(i * 5 + j) % len(WORDS)] for j in range(2 + (i * 4) % 10)] for i in range(n)]


def encoded_task(kind: str, tokenizer, n: int = 9):
    if kind == "sequence":
        examples = [SequenceExample(" ".join(words), i % 2) for i, words in enumerate(sentences(n))]
        return encode(examples, TASKS["sst2"], tokenizer, 64), DecoderSpec("sequence", 2)
    examples = [TokenExample(tuple(words), tuple((i + j) % 9 for j in range(len(words))))
                for i, words in enumerate(sentences(n))]
    return encode(examples, TASKS["conll03"], tokenizer, 64), DecoderSpec("token", 9)


def close(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], scaled_atol: float = 1e-6) -> None:
    """Relative 1e-5; absolute: `scaled_atol` times each tensor's largest score (float32 rounding of
    small scores) plus 1e-15 (the squared rounding noise of the attention key biases, whose gradient is 0)."""
    assert list(actual) == list(expected)
    for name, want in expected.items():
        torch.testing.assert_close(actual[name], want, rtol=1e-5, atol=scaled_atol * float(want.abs().max()) + 1e-15,
                                   msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["sequence", "token"])
def test_batched_equals_loop(kind, dtype, tokenizer):
    encoded, decoder = encoded_task(kind, tokenizer)
    assert len({len(ex.input_ids) for ex in encoded[:N_SAMPLES]}) > 3
    model = build_task_model("tiny-random", decoder, seed=0).to(dtype)
    kwargs = dict(pad_token_id=tokenizer.pad_token_id, n_samples=N_SAMPLES)
    fast = empirical_fisher(model, encoded, batch_size=BATCH_SIZE, progress=False, **kwargs)
    loop = empirical_fisher_loop(model, encoded, **kwargs)
    assert list(fast.scores) == list(encoder_parameters(model))
    close(fast.scores, loop.scores, scaled_atol=1e-6 if dtype == torch.float32 else 0.0)
    assert all(s.dtype == torch.float32 and s.device.type == "cpu" for s in fast.scores.values())
    assert (fast.samples, fast.backward_passes) == (N_SAMPLES, math.ceil(N_SAMPLES / BATCH_SIZE))
    assert (loop.samples, loop.backward_passes) == (N_SAMPLES, N_SAMPLES)
    assert fast.seconds > 0 and loop.seconds > 0


@pytest.mark.parametrize("kind", ["sequence", "token"])
def test_batched_equals_loop_on_minilm(kind, tokenizer):
    """The pretrained model (SDPA attention, real weights), in float64 so only the method is compared."""
    encoded, decoder = encoded_task(kind, tokenizer, n=5)
    model = build_task_model("minilm-l6", decoder, seed=0).double()
    kwargs = dict(pad_token_id=tokenizer.pad_token_id, n_samples=5)
    fast = empirical_fisher(model, encoded, batch_size=3, progress=False, **kwargs)
    close(fast.scores, empirical_fisher_loop(model, encoded, **kwargs).scores, scaled_atol=0.0)


@pytest.mark.parametrize("change", ["module type", "called twice"])
def test_unsupported_encoder_falls_back_to_the_loop(change, tokenizer):
    encoded, decoder = encoded_task("sequence", tokenizer)
    model = build_task_model("tiny-random", decoder, seed=0)
    layer = model.encoder.encoder.layer[0].output
    if change == "module type":
        layer.LayerNorm = nn.RMSNorm(32)
        reason = "RMSNorm 'encoder.layer.0.output.LayerNorm' is not one of"
    else:
        norm = layer.LayerNorm
        layer.LayerNorm = nn.Sequential(norm, norm)  # the same parameters applied twice
        reason = "not each called once per forward"
    kwargs = dict(pad_token_id=tokenizer.pad_token_id, n_samples=4)
    with pytest.warns(UserWarning, match=reason):
        fast = empirical_fisher(model, encoded, progress=False, **kwargs)
    assert fast.backward_passes == 4
    close(fast.scores, empirical_fisher_loop(model, encoded, **kwargs).scores)
    assert not any(module._forward_hooks for module in model.modules())


@pytest.mark.parametrize("kind", ["sequence", "token"])
def test_loop_is_squared_gradient_of_minus_log_likelihood(kind, tokenizer):
    """One sample by hand: (d/dtheta -log p(y|x))^2, the token loss summed over labelled tokens."""
    encoded, decoder = encoded_task(kind, tokenizer)
    model = build_task_model("tiny-random", decoder, seed=0).eval()
    batch = collate(encoded[3:4], tokenizer.pad_token_id)
    log_p = torch.log_softmax(model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]), -1)
    labels = batch["labels"].reshape(-1)
    labelled = labels != -100
    (-log_p.reshape(-1, log_p.shape[-1])[labelled, labels[labelled]].sum()).backward()
    expected = {name: p.grad.square() for name, p in encoder_parameters(model).items()}
    got = empirical_fisher_loop(model, encoded[3:], pad_token_id=tokenizer.pad_token_id, n_samples=1)
    close(got.scores, expected)


def test_pad_id_inside_a_sample_is_never_scored(tokenizer):
    """nn.Embedding gives its padding row no gradient, even where the pad id is attended to."""
    pad = tokenizer.pad_token_id
    encoded = [EncodedExample([101, 2000, pad, 2001, 102], 1, [0] * 5), EncodedExample([101, pad, 102], 0, [0] * 3)]
    model = build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0)
    fast = empirical_fisher(model, encoded, pad_token_id=pad, n_samples=2, progress=False)
    close(fast.scores, empirical_fisher_loop(model, encoded, pad_token_id=pad, n_samples=2).scores)
    assert fast.scores["embeddings.word_embeddings.weight"][pad].sum() == 0


def test_scores_are_a_sum_over_the_first_n_samples(tokenizer):
    encoded, decoder = encoded_task("token", tokenizer)
    model = build_task_model("tiny-random", decoder, seed=0)
    score = lambda data, n: empirical_fisher(model, data, pad_token_id=0, n_samples=n, batch_size=2,  # noqa: E731
                                             progress=False).scores
    first, rest, both = score(encoded, 2), score(encoded[2:], 3), score(encoded, 5)
    close(both, {name: first[name] + rest[name] for name in both})


def test_model_unchanged_and_mode_restored(tokenizer):
    encoded, decoder = encoded_task("sequence", tokenizer)
    model = build_task_model("tiny-random", decoder, seed=0).train()
    frozen = "encoder.layer.0.output.dense.weight"
    model.encoder.get_parameter(frozen).requires_grad_(False)  # as after masked training
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    empirical_fisher(model, encoded, pad_token_id=0, n_samples=5, batch_size=2, progress=False)
    loop = empirical_fisher_loop(model, encoded, pad_token_id=0, n_samples=5)
    assert loop.scores[frozen].sum() > 0
    assert model.training and not model.encoder.get_parameter(frozen).requires_grad
    assert not any(module._forward_hooks for module in model.modules())
    assert model.encoder.config._attn_implementation != "eager"
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]) and p.grad is None, name


@pytest.mark.parametrize("n", [0, 10])
@pytest.mark.parametrize("function", [empirical_fisher, empirical_fisher_loop])
def test_n_samples_out_of_range(function, n, tokenizer):
    encoded, decoder = encoded_task("sequence", tokenizer)
    model = build_task_model("tiny-random", decoder, seed=0)
    with pytest.raises(ValueError, match=rf"n_samples={n}.* 9 "):
        function(model, encoded, pad_token_id=0, n_samples=n)


def test_sample_loss_sums_labelled_tokens():
    logits = torch.randn(1, 4, 3)
    labels = torch.tensor([[-100, 2, 0, -100]])
    expected = -(torch.log_softmax(logits, -1)[0, 1, 2] + torch.log_softmax(logits, -1)[0, 2, 0])
    torch.testing.assert_close(sample_loss(logits, labels), expected)
