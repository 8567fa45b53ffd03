"""Gradient statistics that score-based selectors ask for, computed lazily and cached.

- downstream: the empirical Fisher (paper eq. 2: the mean over N samples of the squared
  per-sample gradient) on the run's training split, through the initial decoder, before any
  fine-tuning; shared by every variant and learning rate of one (model, task, seed, data, N).
- pretraining: the same with the MLM loss on WikiText (validation split) through an MLM decoder
  fitted on the frozen encoder (`repro.selection.mlm_decoder`); shared by every task of one (model, N, data).
Means, not sums, so that eq. 3 (`combined`) does not depend on how many samples each side used.
Both are cached in safetensors under `<cache_dir>/fisher/`, with the N actually used (the
requested N, or all the data when there is less) in the file's metadata; `cost` records it
(`stat_downstream_samples`, `stat_pretraining_samples`) and what this run paid.
- pruning magnitudes: |theta - theta_0| after diff pruning's L1 run, from `pruning_source`
  (a callable giving its `TunedWeights`; it records its own cost).
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from repro.data import load_wikitext
from repro.data.fingerprint import lines_fingerprint
from repro.training.tuned_weights import TunedWeights
from repro.selection.fisher import empirical_fisher
from repro.selection.mlm_decoder import MLMConfig, chunk_text, fit_mlm_head, mask_tokens, mlm_model
from repro.models import TaskModel, load_tokenizer
from repro.files import atomic_target, read_or_set_aside

PRETRAIN_SEED = 0  # masking and MLM-decoder initialisation: the same for every run


@dataclass(frozen=True)
class PretrainingSource:
    """Where pretraining statistics come from: model name, data folder, N and the MLM recipe."""

    model_name: str
    data_dir: Path | None
    n_samples: int
    mlm: MLMConfig = MLMConfig()

    def key(self) -> str:
        """Hash of the model, the WikiText text itself (its fingerprint), N and the recipe."""
        fields = {"model": self.model_name, "data": lines_fingerprint(load_wikitext("validation", self.data_dir)),
                  "n": self.n_samples, "mlm": asdict(self.mlm), "seed": PRETRAIN_SEED, "statistic": STATISTIC}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


STATISTIC = "mean"  # of the squared per-sample gradients; part of every cache key


def _read_scores(path: Path) -> tuple[dict[str, torch.Tensor], int]:
    with safe_open(str(path), framework="pt") as handle:
        return {name: handle.get_tensor(name) for name in handle.keys()}, int(handle.metadata()["n_samples"])


def _cached(path: Path | None, compute) -> tuple[dict[str, torch.Tensor], int, bool]:
    """(scores, N used, whether they came from the cache): `compute()` gives (scores, N). A cache
    file that cannot be read is set aside (`repro.files.read_or_set_aside`) and computed again."""
    cached = None if path is None else read_or_set_aside(path, _read_scores)
    if cached is not None:
        return (*cached, True)
    scores, n = compute()
    if path is not None:
        with atomic_target(path) as tmp:
            save_file({k: v.contiguous() for k, v in scores.items()}, str(tmp), metadata={"n_samples": str(n)})
    return scores, n, False


def _means(sums: dict[str, torch.Tensor], n: int) -> dict[str, torch.Tensor]:
    return {name: s / n for name, s in sums.items()}


@dataclass
class GradientStats:
    """Scores for `model` (its encoder still pretrained) on `encoded_train` and on WikiText."""

    model: TaskModel
    encoded_train: list
    pad_token_id: int
    n_samples: int
    cache_dir: Path | None
    cache_key: str
    pretraining_source: PretrainingSource | None = None
    pruning_source: Callable[[], TunedWeights] | None = None
    device: str = "cpu"
    progress: bool = True
    cost: dict = field(default_factory=dict)
    _scores: dict = field(default_factory=dict)

    def _fisher_file(self, name: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / "fisher" / f"{name}.safetensors"

    def downstream(self) -> dict[str, torch.Tensor]:
        """Mean over min(N, train size) training samples of squared per-sample gradients."""
        if "downstream" not in self._scores:
            started, n = time.perf_counter(), min(self.n_samples, len(self.encoded_train))

            def compute():
                result = empirical_fisher(self.model, self.encoded_train, pad_token_id=self.pad_token_id,
                                          n_samples=n, device=self.device, progress=self.progress)
                self.cost["stat_backward_passes"] = self.cost.get("stat_backward_passes", 0) + result.backward_passes
                return _means(result.scores, n), n

            file = self._fisher_file(f"{self.cache_key}-n{self.n_samples}-{STATISTIC}")
            self._scores["downstream"], used, cached = _cached(file, compute)
            self.cost.update(stat_downstream_samples=used, stat_downstream_cached=cached,
                             stat_downstream_seconds=time.perf_counter() - started)
        return self._scores["downstream"]

    def pretraining(self) -> dict[str, torch.Tensor]:
        """Mean over N WikiText sequences (all of them when fewer) of squared per-sample
        MLM-loss gradients."""
        if "pretraining" not in self._scores:
            if self.pretraining_source is None:
                raise ValueError("pretraining statistics need a PretrainingSource (none given)")
            source, started = self.pretraining_source, time.perf_counter()
            self._scores["pretraining"], used, cached = _cached(self._fisher_file(f"pretrain-{source.key()}"),
                                                                lambda: self._pretraining_fisher(source))
            self.cost.update(stat_pretraining_samples=used, stat_pretraining_requested=source.n_samples,
                             stat_pretraining_cached=cached, stat_pretraining_seconds=time.perf_counter() - started)
        return self._scores["pretraining"]

    def pruning_magnitudes(self) -> dict[str, torch.Tensor]:
        """|theta - theta_0| of every encoder entry after diff pruning's L1 fine-tuning run."""
        if "pruning" not in self._scores:
            if self.pruning_source is None:
                raise ValueError("pruning magnitudes need a pruning_source (none given)")
            initial = dict(self.model.encoder.named_parameters())  # theta_0: selection runs before training
            self._scores["pruning"] = self.pruning_source().change_magnitudes(initial)
        return self._scores["pruning"]

    def _pretraining_fisher(self, source: PretrainingSource) -> dict[str, torch.Tensor]:
        tokenizer = load_tokenizer(source.model_name)
        sequences = chunk_text(load_wikitext("validation", source.data_dir), tokenizer, source.mlm.max_length)
        examples = mask_tokens(sequences, tokenizer, source.mlm.mask_fraction, PRETRAIN_SEED)
        model = mlm_model(self.model.encoder, len(tokenizer), PRETRAIN_SEED)
        fit_mlm_head(model, examples, source.mlm, pad_token_id=tokenizer.pad_token_id, seed=PRETRAIN_SEED,
                     device=self.device, progress=self.progress)
        n = min(source.n_samples, len(examples))
        result = empirical_fisher(model, examples, pad_token_id=tokenizer.pad_token_id, n_samples=n,
                                  device=self.device, progress=self.progress)
        self.cost["stat_backward_passes"] = self.cost.get("stat_backward_passes", 0) + result.backward_passes
        return _means(result.scores, n), n
