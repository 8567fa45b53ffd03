"""The MLM probe of section 4.2 (Table 5) and a small store for probe results.

The probe measures how much of the encoder's masked-language-modelling ability survives
fine-tuning: the encoder is frozen, a freshly initialised two-layer MLP decoder is trained on
masked WikiText (validation split) with Table 5's recipe, and precision@1 is measured on
masked WikiText test text. Re-training the decoder forgives a mere change of representation
(a rotation or scaling of the states), as the paper argues. Reported as the difference to
the pretrained encoder's precision under the same probe.
"""
from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from repro.data import load_wikitext
from repro.selection.mlm_decoder import MLMConfig, chunk_text, fit_mlm_head, mask_tokens, mlm_model, precision_at_1
from repro.models import load_tokenizer
from repro.files import atomic_target
from repro.runs.grid_files import section_grid
from repro.runs.profiles import PROBE_RECIPES
from repro.runs.store import NotComputed


@dataclass(frozen=True)
class MLMProbeConfig:
    """train_sequences / test_sequences: how many WikiText sequences (of `recipe.max_length`
    tokens) of the validation / test split train and score the decoder (None: all of it).
    `recipe`: Table 5 (4 epochs, lr 2e-3, batch 64, weight decay 0.05, constant rate) and
    BERT's 15% masking; `seed` fixes masking and the decoder's initialisation."""

    train_sequences: int | None = None
    test_sequences: int | None = None
    recipe: MLMConfig = field(default_factory=MLMConfig)
    seed: int = 0

    def __post_init__(self):
        for name in ("train_sequences", "test_sequences"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} {value!r} must be >= 1 or None (all)")

    def to_dict(self) -> dict:
        return asdict(self)


@functools.lru_cache(maxsize=4)
def probe_examples(model_name: str, data_dir: Path | None, config: MLMProbeConfig) -> tuple[list, list]:
    """Masked training (WikiText validation) and test (WikiText test) sequences of the probe."""
    tokenizer = load_tokenizer(model_name)
    splits = []
    for split, limit, offset in (("validation", config.train_sequences, 0), ("test", config.test_sequences, 1)):
        sequences = chunk_text(load_wikitext(split, data_dir), tokenizer, config.recipe.max_length)[:limit]
        splits.append(mask_tokens(sequences, tokenizer, config.recipe.mask_fraction, config.seed + offset))
    return splits[0], splits[1]


def mlm_precision(encoder: nn.Module, model_name: str, data_dir: Path | None, config: MLMProbeConfig, *,
                  device: str = "cpu", progress: bool = True) -> float:
    """Precision@1 of a fresh MLP decoder fitted on the frozen `encoder` (which is not changed)."""
    train, test = probe_examples(model_name, data_dir, config)
    tokenizer = load_tokenizer(model_name)
    model = mlm_model(encoder, len(tokenizer), config.seed)
    fit_mlm_head(model, train, config.recipe, pad_token_id=tokenizer.pad_token_id, seed=config.seed,
                 device=device, progress=progress)
    return precision_at_1(model, test, pad_token_id=tokenizer.pad_token_id, device=device)


class ProbeStore:
    """Probe results as JSON files `<results>/probes/<kind>/<key>.json`, written atomically; the
    key hashes everything the result depends on, so a probe is computed once per folder. With
    `reference`, a reference store's records (`<reference>/probes/...`, never written) are read
    after the results folder's; with `compute` False a record in neither raises `NotComputed`."""

    def __init__(self, results_dir: Path, reference_dir: Path | None = None, compute: bool = True):
        self.root = Path(results_dir) / "probes"
        self.reference = None if reference_dir is None else Path(reference_dir) / "probes"
        self.compute = compute

    @classmethod
    def of(cls, workspace) -> "ProbeStore":
        """The probe store of a `repro.runs.run.Workspace`: its results folder, its reference
        and whether it computes (`train`)."""
        return cls(workspace.results_dir, workspace.reference_dir, workspace.train)

    @staticmethod
    def key(identity: dict) -> str:
        return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @classmethod
    def name(cls, kind: str, identity: dict) -> Path:
        """A record's path below a `probes/` folder."""
        return Path(kind) / f"{cls.key(identity)}.json"

    def stored(self, kind: str, identity: dict) -> Path | None:
        """The file of the stored record for (kind, identity): the results folder's, else the
        reference's; None when neither holds one."""
        files = [root / self.name(kind, identity) for root in (self.root, self.reference) if root is not None]
        return next((file for file in files if file.exists()), None)

    def get_or_compute(self, kind: str, identity: dict, compute) -> dict:
        """The stored record for (kind, identity) (the results folder's, else the reference's),
        else {"identity", "value": compute(), "seconds"}, stored in the results folder.
        Exceptions propagate and store nothing; NotComputed when it must be computed and the
        store does not compute."""
        found = self.stored(kind, identity)
        if found is not None:
            return json.loads(found.read_text())
        if not self.compute:
            where = str(self.root.parent) + ("" if self.reference is None else f" or the reference {self.reference.parent}")
            raise NotComputed(f"probe {kind} {self.key(identity)} ({json.dumps(identity, default=str)[:200]}) is not "
                              f"in {where}, and this workspace does not compute (train=False): it is pending")
        started = time.perf_counter()
        value = compute()
        record = {"identity": identity, "value": value, "seconds": time.perf_counter() - started}
        with atomic_target(self.root / self.name(kind, identity)) as tmp:
            tmp.write_text(json.dumps(record, indent=1, sort_keys=True, default=str))
        return record


def section_probe(section: str, profile: str, train_sequences: int | None = None,
                  test_sequences: int | None = None) -> MLMProbeConfig:
    """The MLM probe of a section's grid file (its `probe` sizes; cpu: 128 sequences each, ~12 s
    a probe for minilm-l6 on 2 cores) with the profile's recipe (`repro.runs.profiles.PROBE_RECIPES`),
    the sequence counts replaced where given. ValueError for a section without a probe."""
    grid = section_grid(section, profile)
    if grid.probe is None:
        raise ValueError(f"section {section!r} runs no MLM probe (its grid file {grid.path} has no 'probe')")
    return MLMProbeConfig(train_sequences=train_sequences or grid.probe["train_sequences"],
                          test_sequences=test_sequences or grid.probe["test_sequences"],
                          recipe=MLMConfig(**PROBE_RECIPES[profile]))
