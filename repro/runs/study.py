"""Studies: one task's grid of runs, and the scale profiles (smoke, cpu, paper) that size it.

A profile fills every setting a notebook leaves as None, so `papermill ... -p profile smoke`
shrinks a notebook and `-p profile paper` runs the paper's grid. Notebook overrides may be
literals or papermill strings ("random,bitfit", "1e-3,1e-2", "all").
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Mapping

from repro.runs.config import RunConfig, variant_fields
from repro.selection.selectors import DIFF_PRUNING, DIFF_PRUNING_NO_RETRAIN, is_fixed_size

BITFIT_SIZE = "bitfit"  # in subset_sizes: BitFit's own fraction of the encoder


@dataclass(frozen=True)
class Study:
    """A grid for one (model, task): variants x subset sizes x learning rates x seeds.

    selectors holds variant names (`repro.runs.config.variant_fields`): a selector, "lora",
    "diff_pruning_no_retrain", or one with a penalty such as "full+l1:0.01".
    learning_rates maps a variant to its grid; a key "variant@size" (size as in
    `size_label`, e.g. "random@0.01", "random@bitfit") overrides it for one subset size, as
    the best rate moves with the size (paper, Fig. 2); a penalised variant without a grid of
    its own uses its selector's. Fixed-size variants (bitfit, full, lora) run once per
    (learning rate, seed), whatever the subset sizes. Diff pruning's L1 run uses
    `pruning_l1`, and for "diff_pruning" (with re-training) `pruning_learning_rate`.
    """

    model: str
    task: str
    selectors: tuple[str, ...]
    subset_sizes: tuple[float | None, ...]  # None: BitFit's fraction
    learning_rates: Mapping[str, tuple[float, ...]]
    seeds: tuple[int, ...]
    epochs: int
    train_size: int | None
    val_size: int
    max_length: int
    batch_size: int = 16
    fisher_samples: int = 1024           # N of the downstream squared gradients
    pretrain_fisher_samples: int = 1024  # N WikiText sequences of the pretraining ones
    pruning_l1: float = 0.01              # diff pruning: L1 coefficient of the full fine-tuning run
    pruning_learning_rate: float = 1e-4   # diff pruning with re-training: that run's learning rate

    def __post_init__(self):
        if not self.selectors or not self.seeds:
            raise ValueError(f"empty grid: selectors={self.selectors!r}, seeds={self.seeds!r}")
        if not self.subset_sizes and any(not is_fixed_size(variant_fields(v)["selector"]) for v in self.selectors):
            raise ValueError("empty grid: subset_sizes is empty")
        for variant, size in self.cells():
            if not self.rates_for(variant, size):
                raise ValueError(f"empty learning-rate grid for variant {variant!r} at subset size "
                                 f"{size_label(size)}; give at least one value")

    def cells(self) -> list[tuple[str, float | None]]:
        """Every (selector, subset size) of the grid; fixed-size selectors once, with size None."""
        return [(variant, size) for variant in self.selectors
                for size in ((None,) if is_fixed_size(variant_fields(variant)["selector"]) else self.subset_sizes)]

    def rates_for(self, variant: str, size: float | None) -> tuple[float, ...]:
        """The learning-rate grid of one cell: the first of "variant@size", "variant",
        "selector@size", "selector" that is given (selector: the variant without its penalty)."""
        selector = variant_fields(variant)["selector"]
        for key in (f"{variant}@{size_label(size)}", variant, f"{selector}@{size_label(size)}", selector):
            if key in self.learning_rates:
                return tuple(self.learning_rates[key])
        return ()

    def configs(self, data_source: str) -> list[RunConfig]:
        """Every run of the grid, validated, without duplicates, in a stable order."""
        runs: dict[str, RunConfig] = {}
        for variant, size in self.cells():
            fields = variant_fields(variant)
            if fields["selector"] in (DIFF_PRUNING, DIFF_PRUNING_NO_RETRAIN):
                fields["pruning_l1"] = self.pruning_l1
            if fields["selector"] == DIFF_PRUNING:
                fields["pruning_learning_rate"] = self.pruning_learning_rate
            for lr in self.rates_for(variant, size):
                for seed in self.seeds:
                    config = RunConfig(task=self.task, **fields, learning_rate=float(lr), seed=seed,
                                       model=self.model, subset_size=size, epochs=self.epochs,
                                       batch_size=self.batch_size, train_size=self.train_size,
                                       val_size=self.val_size, max_length=self.max_length,
                                       fisher_samples=self.fisher_samples,
                                       pretrain_fisher_samples=self.pretrain_fisher_samples, data_source=data_source)
                    runs.setdefault(config.run_id(), config)
        return list(runs.values())


def middle_rates(study: Study) -> Study:
    """`study` with every learning-rate grid cut to its middle value (the lower middle of an
    even grid): one run per cell, for pages that must stay short. Such choices are untested
    (`repro.runs.learning_rate.summarise` marks a one-value grid as at its edge)."""
    return replace(study, learning_rates={key: (tuple(sorted(grid))[(len(grid) - 1) // 2],)
                                          for key, grid in study.learning_rates.items()})


def size_label(size: float | None) -> str:
    """How a subset size is written in grids and keys: "bitfit" for BitFit's share, else %g."""
    return BITFIT_SIZE if size is None else f"{size:g}"


def _grid_125(low_exponent: int, high_exponent: int) -> tuple[float, ...]:
    """The paper's log-spaced grid 1, 2, 5 x 10^n, from 10^low up to 10^high."""
    values = [m * 10.0**e for e in range(low_exponent, high_exponent) for m in (1, 2, 5)]
    return tuple(float(f"{v:.0e}") for v in values) + (float(f"1e{high_exponent}"),)


PAPER_GRID = _grid_125(-5, -1)  # 1e-5 ... 1e-1, the paper's cap

PROFILES: dict[str, dict] = {
    "smoke": dict(model="tiny-random", selectors=("random", "bitfit", "full"), subset_sizes=(1e-3, 1e-2),
                  learning_rates={"random": (1e-2, 1e-1), "bitfit": (1e-2, 1e-1), "full": (1e-3, 1e-2),
                                  "largest_downstream_sqgrad": (1e-2, 1e-1), "largest_pretrain_sqgrad": (1e-2, 1e-1),
                                  "combined": (1e-2, 1e-1), "lora": (1e-2, 1e-1), "diff_pruning": (1e-2, 1e-1),
                                  "diff_pruning_no_retrain": (1e-3, 1e-2)},
                  seeds=(0, 1), epochs=1, train_size=24, val_size=8, max_length=32, fisher_samples=8,
                  pretrain_fisher_samples=4, pruning_l1=0.01, pruning_learning_rate=1e-3),
    "cpu": dict(model="minilm-l6", selectors=("random", "bitfit", "full"), subset_sizes=(1e-4, None, 1e-2),
                # half-decade grids centred on a pilot's best validation scores (book: running)
                learning_rates={"random": (3e-3, 1e-2, 3e-2), "random@0.0001": (1e-2, 3e-2, 1e-1),
                                "random@bitfit": (1e-2, 3e-2, 1e-1), "bitfit": (1e-3, 3e-3, 1e-2),
                                "full": (3e-5, 1e-4, 3e-4),
                                "largest_downstream_sqgrad": (3e-4, 1e-3, 3e-3),
                                # not piloted: the downstream sq-grad grid
                                "largest_pretrain_sqgrad": (3e-4, 1e-3, 3e-3), "combined": (3e-4, 1e-3, 3e-3),
                                "lora": (1e-3, 3e-3, 1e-2),  # pilot (book: running): SST-2 best at 3e-3-1e-2, every rank
                                "diff_pruning": (3e-4, 1e-3, 3e-3),  # re-training a mask, as the sq-grad ones
                                "diff_pruning_no_retrain": (3e-5, 1e-4, 3e-4)},  # the L1 run: as full
                seeds=(0,), epochs=1, train_size=2000, val_size=300, max_length=64,
                fisher_samples=256, pretrain_fisher_samples=128,  # CPU: ~6 s and ~3 min (MLM decoder included)
                pruning_l1=1e-3, pruning_learning_rate=1e-4),  # pilot (book: running): best validation of 1e-4, 1e-3, 1e-2
    "paper": dict(model="roberta-base", selectors=("random", "bitfit", "full"),
                  subset_sizes=(1e-5, 1e-4, None, 1e-3, 1e-2, 1e-1),
                  learning_rates={"random": PAPER_GRID, "bitfit": PAPER_GRID, "full": PAPER_GRID,
                                  "largest_downstream_sqgrad": PAPER_GRID, "largest_pretrain_sqgrad": PAPER_GRID,
                                  "combined": PAPER_GRID, "lora": PAPER_GRID, "diff_pruning": PAPER_GRID,
                                  "diff_pruning_no_retrain": PAPER_GRID},
                  seeds=(0, 1, 2, 3, 4), epochs=4, train_size=None, val_size=1000, max_length=256,
                  fisher_samples=1024, pretrain_fisher_samples=30508,  # the paper: 30,508 WikiText samples
                  pruning_l1=0.01, pruning_learning_rate=2e-5),  # not stated by the paper: our choice
}
PAPER_EPOCHS = {"qnli": 2}  # Table 2: QNLI 2 epochs, every other task 4


def _as_list(value, name: str) -> list:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (int, float)):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list or a comma-separated string, got {value!r}")
    return list(value)


def _as_size(value) -> float | None:
    if value is None or value == BITFIT_SIZE:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"subset size {value!r} must be a fraction in (0, 1] or {BITFIT_SIZE!r}") from None


def _as_rates(value, selectors: tuple[str, ...], defaults: Mapping) -> dict[str, tuple[float, ...]]:
    """A mapping replaces the profile's grids key by key (a variant's key also drops the
    profile's "variant@size" keys); a list is one grid for every variant and size. Profile grids
    are kept for the variants and the selectors they penalise."""
    if isinstance(value, Mapping):
        given = {key: tuple(float(v) for v in _as_list(rates, f"learning_rates[{key!r}]")) for key, rates in value.items()}
        names = set(selectors) | {variant_fields(v)["selector"] for v in selectors}
        kept = {key: tuple(rates) for key, rates in defaults.items()
                if key.split("@")[0] in names and key.split("@")[0] not in given}
        return {**kept, **given}
    shared = tuple(float(v) for v in _as_list(value, "learning_rates"))
    return {name: shared for name in selectors}


def study_from_profile(profile: str, task: str, **overrides) -> Study:
    """The profile's study for `task`, with every override that is not None applied.

    train_size "all" means the whole training split.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known profiles: {sorted(PROFILES)}")
    settings = dict(PROFILES[profile], task=task)
    if profile == "paper":
        settings["epochs"] = PAPER_EPOCHS.get(task, settings["epochs"])
    allowed = {f.name for f in fields(Study)}
    unknown = set(overrides) - allowed
    if unknown:
        raise ValueError(f"unknown study settings {sorted(unknown)}; allowed: {sorted(allowed)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    if "selectors" in given:
        given["selectors"] = tuple(_as_list(given["selectors"], "selectors"))
    if "seeds" in given:
        given["seeds"] = tuple(int(s) for s in _as_list(given["seeds"], "seeds"))
    if "subset_sizes" in given:
        given["subset_sizes"] = tuple(_as_size(s) for s in _as_list(given["subset_sizes"], "subset_sizes"))
    if given.get("train_size") == "all":
        given["train_size"] = None
    elif isinstance(given.get("train_size"), str):
        if not given["train_size"].isdigit():
            raise ValueError(f"train_size {given['train_size']!r} must be a number of examples or 'all'")
        given["train_size"] = int(given["train_size"])
    selectors = tuple(given.get("selectors", settings["selectors"]))
    rates = given.pop("learning_rates", settings["learning_rates"])
    settings.update(given)
    settings["learning_rates"] = _as_rates(rates, selectors, PROFILES[profile]["learning_rates"])
    return Study(**{k: v for k, v in settings.items() if k in allowed})
