"""Studies: one task's grid of runs, built (`build_study`) from a profile's scale settings
(`repro.runs.profiles`), a section's grid file (`repro.runs.grid_files`) and notebook
overrides, which may be literals or papermill strings ("random,bitfit", "1e-3,1e-2", "all").
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Mapping

from repro.runs.config import RunConfig
from repro.variants.registry import variant_fields, variant_named

BITFIT_SIZE = "bitfit"  # in subset_sizes: BitFit's own fraction of the encoder


@dataclass(frozen=True)
class Study:
    """A grid for one (model, task): variants x subset sizes x learning rates x seeds.

    selectors holds variant names (`repro.variants.registry`): a selector, "lora:16", or one
    with a penalty such as "full+l1:0.01".
    learning_rates maps a variant to its grid; a key "variant@size" (size as in
    `size_label`, e.g. "random@0.01", "random@bitfit") overrides it for one subset size, as
    the best rate moves with the size (paper, Fig. 2); a penalised variant without a grid of
    its own uses its selector's. Fixed-size variants (bitfit, full, lora) run once per
    (learning rate, seed), whatever the subset sizes. A variant may take settings of the study
    (`Variant.study_fields`): diff pruning's L1 run uses `pruning_l1`, and with re-training
    `pruning_learning_rate`.
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
    threads: int = 1                      # torch threads of each run (part of its identity)

    def __post_init__(self):
        if not self.selectors or not self.seeds:
            raise ValueError(f"empty grid: selectors={self.selectors!r}, seeds={self.seeds!r}")
        if not self.subset_sizes and any(not variant_named(v).fixed_size for v in self.selectors):
            raise ValueError("empty grid: subset_sizes is empty")
        for variant, size in self.cells():
            if not self.rates_for(variant, size):
                raise ValueError(f"empty learning-rate grid for variant {variant!r} at subset size "
                                 f"{size_label(size)}; give at least one value")

    def cells(self) -> list[tuple[str, float | None]]:
        """Every (selector, subset size) of the grid; fixed-size selectors once, with size None."""
        return [(variant, size) for variant in self.selectors
                for size in ((None,) if variant_named(variant).fixed_size else self.subset_sizes)]

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
            fields = variant_fields(variant) | variant_named(variant).study_fields(self)
            for lr in self.rates_for(variant, size):
                for seed in self.seeds:
                    config = RunConfig(task=self.task, **fields, learning_rate=float(lr), seed=seed,
                                       model=self.model, subset_size=size, epochs=self.epochs,
                                       batch_size=self.batch_size, train_size=self.train_size,
                                       val_size=self.val_size, max_length=self.max_length,
                                       fisher_samples=self.fisher_samples,
                                       pretrain_fisher_samples=self.pretrain_fisher_samples, data_source=data_source,
                                       threads=self.threads)
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


RATE_GRIDS = ("full", "middle")  # rate_grid: every rate of each grid, or only its middle one
SETTINGS = {f.name for f in fields(Study)} - {"task"} | {"rate_grid"}  # what a layer of `build_study` may set
WHOLE_NUMBERS = ("epochs", "val_size", "max_length", "batch_size", "fisher_samples", "pretrain_fisher_samples",
                 "threads")  # settings that count something (train_size too, or "all")
NUMBERS = ("pruning_l1", "pruning_learning_rate")


def whole_number(value, name: str) -> int:
    """`value` as an int: an int, a float without a fractional part (1000.0, as papermill reads
    1e3) or a string of digits ("16"); ValueError naming `name` for anything else (0.5, "two", True)."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"{name} {value!r} must be a whole number")


def number(value, name: str) -> float:
    """`value` as a float: a number or a string of one ("1e-3"); ValueError naming `name` else."""
    if isinstance(value, bool):
        raise ValueError(f"{name} {value!r} must be a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} must be a number") from None


def as_list(value, name: str) -> list:
    """A list parameter as a list: a list or tuple as is, a papermill string split on commas
    ("sst2, trec6" -> ["sst2", "trec6"]), one number as a list of it; ValueError naming `name` else."""
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


def _as_rates(value, selectors: tuple[str, ...], current: Mapping) -> dict[str, tuple[float, ...]]:
    """`value` over the grids in `current`: a mapping replaces them key by key (a variant's key
    also drops its "variant@size" keys); a list is one grid for every variant and size."""
    if isinstance(value, Mapping):
        given = {key: tuple(number(v, f"learning_rates[{key!r}]") for v in as_list(rates, f"learning_rates[{key!r}]"))
                 for key, rates in value.items()}
        return {**{key: rates for key, rates in current.items() if key.split("@")[0] not in given}, **given}
    shared = tuple(number(v, "learning_rates") for v in as_list(value, "learning_rates"))
    return {name: shared for name in selectors}


def _parsed(layer: Mapping) -> dict:
    """A layer's settings that are not None, papermill strings parsed."""
    unknown = set(layer) - SETTINGS
    if unknown:
        raise ValueError(f"unknown study settings {sorted(unknown)}; allowed: {sorted(SETTINGS)}")
    given = {k: v for k, v in layer.items() if v is not None}
    if "selectors" in given:
        given["selectors"] = tuple(str(s) for s in as_list(given["selectors"], "selectors"))
    if "seeds" in given:
        given["seeds"] = tuple(whole_number(s, "seeds") for s in as_list(given["seeds"], "seeds"))
    if "subset_sizes" in given:
        given["subset_sizes"] = tuple(_as_size(s) for s in as_list(given["subset_sizes"], "subset_sizes"))
    for name in WHOLE_NUMBERS:
        if name in given:
            given[name] = whole_number(given[name], name)
    for name in NUMBERS:
        if name in given:
            given[name] = number(given[name], name)
    if given.get("train_size") == "all":
        given["train_size"] = None
    elif "train_size" in given:
        try:
            given["train_size"] = whole_number(given["train_size"], "train_size")
        except ValueError:
            raise ValueError(f"train_size {given['train_size']!r} must be a whole number of examples or 'all'") from None
    if given.get("rate_grid", RATE_GRIDS[0]) not in RATE_GRIDS:
        raise ValueError(f"rate_grid {given['rate_grid']!r} must be one of {RATE_GRIDS}: full runs every rate of "
                         "each grid, middle only its middle one (not tuned)")
    return given


def build_study(task: str, base: Mapping, *layers: Mapping) -> Study:
    """The study of `task`: `base` (a profile's settings, `repro.runs.profiles`) with each layer
    applied in turn, a setting given as None leaving the one before. Selectors, seeds and subset
    sizes may be lists or papermill strings ("random,bitfit", "0,1", "1e-4,bitfit"); seeds, train_size
    (or "all") and the other counts (`WHOLE_NUMBERS`) whole numbers, also as strings ("16");
    learning_rates a mapping (replacing grids key by key) or a list (one grid for every variant
    and size). rate_grid "middle" cuts every grid to its middle value (`middle_rates`). The study
    keeps the grids of its variants and of the selectors they penalise. Every run of it is built
    once, so any bad value (0.5 seeds, "two" epochs, a subset size of 2) is a ValueError naming
    the setting here, before anything runs."""
    settings = dict(base, task=task, selectors=(), subset_sizes=(), rate_grid=RATE_GRIDS[0])
    rate_layers = []
    for layer in layers:
        given = _parsed(layer)
        if "learning_rates" in given:
            rate_layers.append(given.pop("learning_rates"))
        settings.update(given)
    selectors = settings["selectors"]
    rates: dict[str, tuple[float, ...]] = {}
    for value in rate_layers:
        rates = _as_rates(value, selectors, rates)
    names = set(selectors) | {variant_fields(v)["selector"] for v in selectors}
    settings["learning_rates"] = {key: grid for key, grid in rates.items() if key.split("@")[0] in names}
    rate_grid = settings.pop("rate_grid")
    study = Study(**settings)
    study = middle_rates(study) if rate_grid == "middle" else study
    study.configs("local")  # validates every run (sizes, rates, variants, counts)
    return study
