"""`RunConfig`: everything that determines one run's result; its hash names the result file.

A run's identity is its config, hashed with `RESULTS_VERSION`, plus the fingerprint of the data
it read (`repro.data.fingerprint`), which its result records and a sweep checks before reusing
it (`repro.runs.store`). The torch thread count is a field: CPU kernels sum in a different
order with more threads, so the same run on 1 and 2 threads gives bitwise different weights.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field

from repro.data import TASKS
from repro.training.decoder_first import DecoderConfig
from repro.training.loop import Schedule
from repro.variants.lora import DEFAULT_RANK
from repro.variants.registry import check_config, variant_name

DATA_SOURCES = ("local", "hub")
# Bump when a change to the code alters the numbers a run produces (its metrics or weights):
# every run id changes with it, so results of the older code are never taken for the new.
# 2: the thread count joined the config, diverged runs are judged by the divergence rule, and the
# gradient statistics are means (eq. 2), which changes what `combined` selects.
RESULTS_VERSION = 2

WHOLE_NUMBER_FIELDS = ("seed", "epochs", "batch_size", "train_size", "val_size", "max_length", "fisher_samples",
                       "pretrain_fisher_samples", "lora_rank")  # a float (1.5) or string ("two") is refused


@dataclass(frozen=True)
class RunConfig:
    """One fine-tuning run. Frozen and JSON-serialisable.

    selector: the method (`repro.variants.registry`); `variant` is the run's variant name, and
    the method validates the fields below that belong to it (others keep their defaults).
    subset_size: fraction of the encoder's parameters (decoder excluded); None means BitFit's
    fraction for flexible selectors, and must be None for fixed-size ones (bitfit, full, lora).
    train_size: training examples after carving `val_size` for validation (None = all).
    data_source: "local" (a data folder) or "hub"; QNLI differs between the two.
    fisher_samples: N of the downstream empirical Fisher (all of train if fewer);
    pretrain_fisher_samples: N WikiText sequences for the pretraining one (all if fewer).
    lora_rank: the adapters' rank when selector is "lora" (the LoRA baseline).
    regularization, regularization_strength: an "l1"/"l2" penalty toward theta_0 on the trained
    encoder entries (`repro.training.penalties`), both None for none.
    pruning_l1: the L1 coefficient of diff pruning's full fine-tuning run (diff pruning only);
    pruning_learning_rate: that run's learning rate for "diff_pruning" (with re-training; its
    own learning_rate is the re-training's). For "diff_pruning_no_retrain" there is no second
    training: learning_rate is the L1 run's, and pruning_learning_rate must be None.
    init_from: the run id of a finished run in the same results folder whose tuned encoder this
    run starts from (its theta_0), e.g. a secondary task after a primary one (section 4); None:
    the pretrained encoder. Left out of `to_dict` when None.
    threads: torch's intra-op threads while the run computes (`repro.runs.run.run_one` sets them,
    whichever executor runs it), so serial, pool and Slurm runs give identical numbers.
    """

    task: str
    selector: str
    learning_rate: float
    seed: int = 0
    model: str = "minilm-l6"
    subset_size: float | None = None
    epochs: int = 4
    batch_size: int = 16
    train_size: int | None = None
    val_size: int = 500
    max_length: int = 128
    warmup_fraction: float = 0.1
    max_grad_norm: float = 5.0
    data_source: str = "local"
    fisher_samples: int = 1024
    pretrain_fisher_samples: int = 1024
    lora_rank: int = DEFAULT_RANK
    regularization: str | None = None
    regularization_strength: float | None = None
    pruning_l1: float | None = None
    pruning_learning_rate: float | None = None
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    init_from: str | None = None
    threads: int = 1

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; known tasks: {sorted(TASKS)}")
        for name in WHOLE_NUMBER_FIELDS:
            value = getattr(self, name)
            if (not isinstance(value, int) or isinstance(value, bool)) and not (name == "train_size" and value is None):
                raise ValueError(f"{name} {value!r} must be a whole number")
        check_config(self)  # the variant's rules: selector, size, penalty, LoRA rank, diff pruning's L1 run
        if self.subset_size is not None and not (0.0 < self.subset_size <= 1.0):
            raise ValueError(f"subset size {self.subset_size!r} must be a fraction in (0, 1]")
        for name in ("fisher_samples", "pretrain_fisher_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} (N) {getattr(self, name)!r} must be >= 1")
        if self.data_source not in DATA_SOURCES:
            raise ValueError(f"data_source {self.data_source!r} must be one of {DATA_SOURCES}")
        if self.train_size is not None and self.train_size < 1:
            raise ValueError(f"train_size {self.train_size!r} must be >= 1 or None (all)")
        if self.val_size < 1 or self.max_length < 8:
            raise ValueError(f"val_size ({self.val_size}) must be >= 1 and max_length ({self.max_length}) >= 8")
        if not math.isfinite(self.max_grad_norm) or self.max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm {self.max_grad_norm!r} must be a positive number")
        if not isinstance(self.threads, int) or isinstance(self.threads, bool) or self.threads < 1:
            raise ValueError(f"threads {self.threads!r} must be a whole number >= 1 (torch threads per run)")
        if self.init_from is not None and not re.fullmatch(r"[0-9a-f]{16}", self.init_from):
            raise ValueError(f"init_from {self.init_from!r} must be a run id (16 hex digits) or None")
        self.schedule()  # validates epochs, batch size, learning rate, warm-up

    @property
    def variant(self) -> str:
        """The variant's name in tables: "random", "lora:16", "full+l1:0.01" (`repro.variants.registry`)."""
        return variant_name(self)

    def schedule(self) -> Schedule:
        return Schedule(self.epochs, self.batch_size, self.learning_rate, self.warmup_fraction, self.max_grad_norm)

    def to_dict(self) -> dict:
        data = asdict(self)
        if data["init_from"] is None:
            del data["init_from"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        data = dict(data)
        data["decoder"] = DecoderConfig(**data.get("decoder", {}))
        return cls(**data)

    def run_id(self) -> str:
        """A stable 16-hex-digit hash of every field and `RESULTS_VERSION` (computed once per
        instance and version: the fields are frozen)."""
        version, run_id = self.__dict__.get("_run_id", (None, None))
        if version != RESULTS_VERSION:
            run_id = _hash({**self.to_dict(), "results_version": RESULTS_VERSION})
            object.__setattr__(self, "_run_id", (RESULTS_VERSION, run_id))
        return run_id

    def decoder_key(self) -> str:
        """Hash of what the initial decoder depends on (not the selector or learning rate); the
        caches keyed by it add the data's fingerprint (`repro.runs.run.cache_key`)."""
        fields = {k: v for k, v in self.to_dict().items()
                  if k in ("task", "seed", "model", "train_size", "val_size", "max_length", "data_source", "decoder",
                           "init_from", "threads")}
        return _hash({**fields, "results_version": RESULTS_VERSION})


def _hash(fields: dict) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
