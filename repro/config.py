"""`RunConfig`: everything that determines one run's result; its hash names the result file."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

from repro.data import TASKS
from repro.decoder import DecoderConfig
from repro.optimization import Schedule
from repro.selectors import is_fixed_size

DATA_SOURCES = ("local", "hub")


@dataclass(frozen=True)
class RunConfig:
    """One fine-tuning run. Frozen and JSON-serialisable.

    subset_size: fraction of the encoder's parameters (head excluded); None means BitFit's
    fraction for flexible selectors, and must be None for fixed-size ones (bitfit, full).
    train_size: training examples after carving `val_size` for validation (None = all).
    data_source: "local" (a data folder) or "hub"; QNLI differs between the two.
    fisher_samples: N of the downstream empirical Fisher (all of train if fewer);
    pretrain_fisher_samples: N WikiText sequences for the pretraining one (all if fewer).
    lora_rank: the adapters' rank when selector is "lora" (the LoRA baseline).
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
    lora_rank: int = 4
    decoder: DecoderConfig = field(default_factory=DecoderConfig)

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; known tasks: {sorted(TASKS)}")
        if is_fixed_size(self.selector) and self.subset_size is not None:
            raise ValueError(f"selector {self.selector!r} has a fixed size; subset_size must be None, "
                             f"got {self.subset_size!r}")
        if self.subset_size is not None and not (0.0 < self.subset_size <= 1.0):
            raise ValueError(f"subset size {self.subset_size!r} must be a fraction in (0, 1]")
        if self.lora_rank < 1:
            raise ValueError(f"LoRA rank {self.lora_rank!r} must be >= 1")
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
        self.schedule()  # validates epochs, batch size, learning rate, warm-up

    def schedule(self) -> Schedule:
        return Schedule(self.epochs, self.batch_size, self.learning_rate, self.warmup_fraction, self.max_grad_norm)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        data = dict(data)
        data["decoder"] = DecoderConfig(**data.get("decoder", {}))
        return cls(**data)

    def run_id(self) -> str:
        """A stable 16-hex-digit hash of every field."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def decoder_key(self) -> str:
        """Hash of what the decoder-first head depends on (not the selector or learning rate)."""
        fields = {k: v for k, v in self.to_dict().items()
                  if k in ("task", "seed", "model", "train_size", "val_size", "max_length", "data_source", "decoder")}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
