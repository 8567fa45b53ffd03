"""Synthetic stores with known answers: run records written as a sweep would, with scores drawn
from stated truths, so every finding's right verdict is known before the rules meet it."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import numpy as np

from repro.runs.config import RunConfig
from repro.runs.store import ResultStore, RunResult
from repro.runs.study import Study

RATES = (1e-3, 3e-3, 1e-2)
SEEDS = (0, 1, 2, 3, 4)

# (variant, size, seed, learning rate) -> metrics dict, or None for "no record".
Scorer = Callable[[str, float | None, int, float], dict | None]


def study(task: str, selectors, sizes=(None,), seeds=SEEDS, rates=RATES, train_size: int = 100) -> Study:
    """A grid of `selectors` x `sizes` x `rates` x `seeds` on `task` (same rates for every variant)."""
    return Study(model="tiny-random", task=task, selectors=tuple(selectors), subset_sizes=tuple(sizes),
                 learning_rates={v.split("+")[0].split(":")[0]: tuple(rates) for v in selectors}, seeds=tuple(seeds),
                 epochs=1, train_size=train_size, val_size=20, max_length=32)


def write(root: Path, grid: Study, scorer: Scorer, status: Callable[[RunConfig], str] = lambda c: "ok") -> list[RunConfig]:
    """Write one record per config of `grid` that `scorer` scores; returns the configs written."""
    store, written = ResultStore(root), []
    for config in grid.configs("local"):
        metrics = scorer(config.variant, config.subset_size, config.seed, config.learning_rate)
        if metrics is None:
            continue
        state = status(config)
        store.write(RunResult(config, state, metrics if state == "ok" else {},
                              selection={"fraction": config.subset_size or 0.001}))
        written.append(config)
    return written


def truth_scorer(means: dict, *, noise: float = 0.0, best_rate: float | Callable = 3e-3, gap: dict | None = None,
                 seed: int = 0) -> Scorer:
    """Scores around `means[variant]` (or `means[(variant, size)]`): validation peaks at `best_rate`
    (or `best_rate(variant, size)`; 0.05 lower elsewhere); test = mean + per-(variant, size, seed)
    noise of sd `noise`; the gap test - train is gap[variant] (default -0.02: train above test)
    plus noise of sd `noise`."""
    rng = np.random.default_rng(seed)
    draws: dict = {}

    def scorer(variant, size, run_seed, rate):
        mean = means.get((variant, size), means.get(variant))
        if mean is None:
            return None
        key = (variant, size, run_seed)
        if key not in draws:
            draws[key] = tuple(float(x) for x in rng.normal(0.0, noise, 2)) if noise else (0.0, 0.0)
        test = mean + draws[key][0]
        best = best_rate(variant, size) if callable(best_rate) else best_rate
        penalty = 0.0 if np.isclose(rate, best) else 0.05
        return {"validation": test - penalty, "test": test,
                "train": test - (gap or {}).get(variant, -0.02) - draws[key][1]}

    return scorer


def write_probes(root: Path, values: dict[str, float], pretrained: float, setting: dict | None = None) -> None:
    """MLM probe records as `ProbeStore` writes them: run id -> precision@1, plus the pretrained one."""
    folder = Path(root) / "probes" / "mlm"
    folder.mkdir(parents=True, exist_ok=True)
    setting = setting or {"model": "tiny-random", "data": "abc", "probe": {"train_sequences": 8}}
    for i, (subject, value) in enumerate({**values, "pretrained": pretrained}.items()):
        record = {"identity": {"subject": subject, **setting}, "value": value, "seconds": 0.1}
        (folder / f"{i:016x}.json").write_text(json.dumps(record))


def write_secondaries(root: Path, primaries: list[RunConfig], tasks, score: Callable[[RunConfig, str], float],
                      rate: float = 3e-3, base: float = 0.8) -> None:
    """Base runs (full fine-tuning, one rate, the primaries' seeds) on each secondary task scoring
    `base`, and from every primary run at learning rate `rate` (its cell's best on validation) a
    secondary run per task scoring `score(primary, task)`, as `repro.generality` runs them."""
    store = ResultStore(root)
    seeds = sorted({p.seed for p in primaries})
    for task in tasks:
        bases = {b.seed: b for b in write(root, study(task, ["full"], seeds=seeds, rates=(1e-3,)),
                                          lambda *_: {"validation": base, "test": base, "train": base})}
        for primary in primaries:
            if primary.learning_rate == rate:
                config = dataclasses.replace(bases[primary.seed], init_from=primary.run_id())
                store.write(RunResult(config, "ok", {"test": score(primary, task)}))
