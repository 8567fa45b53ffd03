"""Generality of a tuned encoder (paper section 4): the primary run's generalisation gap, the
MLM probe, and secondary tasks, each beside the same measure on the pretrained encoder.

- gap: test score minus train score of the primary run (below zero: test below train).
- MLM probe: precision@1 of a fresh MLP decoder on the frozen encoder (`repro.generality.mlm_probe`), minus the
  pretrained encoder's.
- secondary tasks: the tuned encoder gets a new decoder for another task. "decoder" is the score
  of the initial decoder alone (Table 4, the encoder frozen); "full" is the score after full
  fine-tuning from there. Both use the secondary task's `base` run: full fine-tuning of the
  pretrained encoder at the learning rate chosen once on it, so every secondary run of a task
  shares that rate, as in the paper. Differences are to the base run (same seed).

Every secondary run is an ordinary stored run (`RunConfig.init_from` = the primary's run id),
run by `repro.generality.runs.run_secondaries`; this module only reads runs and measures them.
Probe values are stored under `<results>/probes`. A primary run that diverged or failed, or a
probe that raises, is recorded in the row's `status` / `reason`, and the rest goes on.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, replace

import pandas as pd
from tqdm import tqdm

from repro.runs.config import RunConfig
from repro.data import wikitext_fingerprint
from repro.runs.run import (Workspace, current_fingerprint, load_or_train_tuned_weights,
                            score_after_decoder_only_tuning)
from repro.models import load_encoder
from repro.runs.store import NotComputed
from repro.generality.mlm_probe import MLMProbeConfig, ProbeStore, mlm_precision

PRETRAINED = "pretrained"


@dataclass(frozen=True)
class Generality:
    """What to measure: the MLM probe's settings (None: no MLM probe) and, per task, per seed,
    the base run (full fine-tuning of the pretrained encoder at the rate chosen on it).
    Secondary tasks of a primary run are all of `secondary_tasks`, its own task included when
    listed (the paper's Tables 6 and 7 average over all four tasks: a fresh decoder and full
    fine-tuning on the primary's own task, from its tuned encoder); its "primary" difference is to
    the base run of its own task (add that task's base to get it)."""

    probe: MLMProbeConfig | None
    bases: dict[str, dict[int, RunConfig]]
    secondary_tasks: tuple[str, ...]

    def __post_init__(self):
        for task in self.secondary_tasks:
            if task not in self.bases:
                raise ValueError(f"secondary task {task!r} has no base run; bases: {sorted(self.bases)}")
        for task, per_seed in self.bases.items():
            for seed, base in per_seed.items():
                if base.task != task or base.seed != seed or base.selector != "full" or base.init_from is not None:
                    raise ValueError(f"base run for ({task!r}, seed {seed}) must be full fine-tuning of the pretrained "
                                     f"encoder on that task and seed, got {base.variant} on {base.task}, seed {base.seed}")

    def secondary_configs(self, primary: RunConfig) -> dict[str, RunConfig]:
        """Per secondary task (the primary's own included when listed), the run that starts from `primary`."""
        return {task: secondary_config(primary, self.base(task, primary.seed)) for task in self.secondary_tasks}

    def base(self, task: str, seed: int) -> RunConfig:
        """The base run of `task` for `seed`."""
        if seed not in self.bases[task]:
            raise ValueError(f"no base run for task {task!r} and seed {seed}; seeds: {sorted(self.bases[task])}")
        return self.bases[task][seed]


def secondary_config(primary: RunConfig, base: RunConfig) -> RunConfig:
    """`base` (full fine-tuning on the secondary task) started from `primary`'s tuned encoder."""
    if primary.model != base.model:
        raise ValueError(f"primary run uses {primary.model!r}, the secondary base run {base.model!r}")
    return replace(base, init_from=primary.run_id())


def mlm_identity(config: RunConfig | None, model: str, workspace: Workspace, probe: MLMProbeConfig) -> dict:
    """What an MLM-probe record depends on (its `ProbeStore` identity)."""
    return {"subject": PRETRAINED if config is None else config.run_id(), "model": model,
            "data": wikitext_fingerprint(workspace.data_dir), "probe": probe.to_dict()}


def decoder_identity(config: RunConfig, workspace: Workspace) -> dict:
    """What a decoder-only score depends on (its `ProbeStore` identity)."""
    return {"decoder_key": config.decoder_key(), "data": current_fingerprint(config, workspace)}


def needs_tuned_weights(primary: RunConfig, generality: Generality, workspace: Workspace) -> bool:
    """Whether measuring an ok primary run still reads its tuned encoder: a secondary run from it
    is not stored, or its MLM probe, or the decoder-only score of one of its ok secondary runs."""
    probes = ProbeStore.of(workspace)
    secondaries = [workspace.store.load(c) for c in generality.secondary_configs(primary).values()]
    if any(r is None for r in secondaries):
        return True
    if generality.probe is not None and probes.stored(
            "mlm", mlm_identity(primary, primary.model, workspace, generality.probe)) is None:
        return True
    return any(probes.stored("decoder", decoder_identity(r.config, workspace)) is None
               for r in secondaries if r.status == "ok")


def measure_mlm_precision(config: RunConfig | None, model: str, workspace: Workspace, probe: MLMProbeConfig) -> float:
    """MLM-probe precision@1 of a run's tuned encoder (None: the pretrained `model`), stored once."""
    identity = mlm_identity(config, model, workspace, probe)

    def compute() -> float:
        encoder = load_encoder(model)
        if config is not None:
            load_or_train_tuned_weights(config, workspace).load_encoder_into(encoder)
        return mlm_precision(encoder, model, workspace.data_dir, probe, device=workspace.device,
                             progress=workspace.progress)

    return ProbeStore.of(workspace).get_or_compute("mlm", identity, compute)["value"]


def measure_decoder_only_score(config: RunConfig, workspace: Workspace) -> float:
    """`repro.runs.run.score_after_decoder_only_tuning`, stored once per initial decoder."""
    return ProbeStore.of(workspace).get_or_compute("decoder", decoder_identity(config, workspace),
                                                   lambda: score_after_decoder_only_tuning(config, workspace))["value"]


def base_and_secondary_runs(primaries: list[RunConfig], generality: Generality,
                             workspace: Workspace) -> list[RunConfig]:
    """The runs `assess` reads besides the primaries: every base run, then the secondary runs of
    each primary run that finished ok (each run once, in that order)."""
    configs = {base.run_id(): base for per_seed in generality.bases.values() for base in per_seed.values()}
    for primary in primaries:
        stored = workspace.store.load(primary)
        if stored is not None and stored.status == "ok":
            configs.update({c.run_id(): c for c in generality.secondary_configs(primary).values()})
    return list(configs.values())


def assess(primaries: list[RunConfig], generality: Generality, workspace: Workspace) -> pd.DataFrame:
    """One row per (primary run, secondary task): the primary's test and train scores, gap and
    MLM precision (repeated over its secondary tasks), and the secondary "decoder" and "full"
    scores, each with its difference to the pretrained encoder (columns `*_diff`). A primary run
    without secondary tasks gets one row with secondary_task None. Reads runs and launches none:
    the primary runs must have been run (`repro.runs.sweep`), then the base and secondary runs
    (`repro.generality.runs.run_secondaries`); missing ones raise before anything is computed."""
    _require_results(primaries, workspace, "primary", "run them first")
    _require_results(base_and_secondary_runs(primaries, generality, workspace), workspace, "base or secondary",
                     "run repro.generality.runs.run_secondaries first")
    model_names = {p.model for p in primaries}
    pretrained_mlm = {m: measure_mlm_precision(None, m, workspace, generality.probe) if generality.probe else None
                      for m in model_names}
    rows = []
    for primary in tqdm(primaries, desc="generality probes", disable=not workspace.progress):
        rows.extend(_rows_of(primary, generality, workspace, pretrained_mlm[primary.model]))
    return pd.DataFrame(rows)


def _rows_of(primary: RunConfig, generality: Generality, workspace: Workspace,
             pretrained_mlm: float | None) -> list[dict]:
    stored = workspace.store.load(primary)
    row = {"task": primary.task, "variant": primary.variant, "subset_size": primary.subset_size,
           "fraction": stored.selection.get("fraction"), "seed": primary.seed, "learning_rate": primary.learning_rate,
           "run_id": primary.run_id(), "status": stored.status, "reason": stored.reason}
    if stored.status != "ok":
        return [row]
    row.update(primary_test=stored.metrics["test"], primary_train=stored.metrics.get("train"))
    row["gap"] = generalisation_gap(row["primary_test"], row["primary_train"])
    base = generality.bases.get(primary.task, {}).get(primary.seed)
    if base is not None:
        row["primary_diff"] = row["primary_test"] - _test_score(base, workspace)
    try:
        if generality.probe is not None:
            row["mlm"] = measure_mlm_precision(primary, primary.model, workspace, generality.probe)
            row["mlm_diff"] = row["mlm"] - pretrained_mlm
    except NotComputed as error:  # a read-only workspace: the probe is not in the stores yet
        row.update(status="pending", reason=str(error))
    except Exception as error:  # noqa: BLE001 - recorded; the other measures go on
        row.update(status="probe failed", reason=_reason(error))
    secondaries = generality.secondary_configs(primary)
    if not secondaries:
        return [row | {"secondary_task": None}]
    return [_secondary_row(row, task, config, generality.base(task, primary.seed), workspace)
            for task, config in secondaries.items()]


def _secondary_row(row: dict, task: str, config: RunConfig, base: RunConfig, workspace: Workspace) -> dict:
    row = row | {"secondary_task": task, "secondary_run_id": config.run_id()}
    try:
        stored = workspace.store.load(config)
        if stored is None:
            raise workspace.not_computed(f"secondary run {config.run_id()} ({config.variant}, {task}, seed {config.seed})")
        if stored.status != "ok":
            return row | {"status": f"secondary {stored.status}", "reason": stored.reason}
        row.update(secondary_full=stored.metrics["test"], secondary_decoder=measure_decoder_only_score(config, workspace))
        row["secondary_full_diff"] = row["secondary_full"] - _test_score(base, workspace)
        row["secondary_decoder_diff"] = row["secondary_decoder"] - measure_decoder_only_score(base, workspace)
    except NotComputed as error:  # a read-only workspace: the secondary run or probe is not in the stores yet
        row.update(status="pending", reason=str(error))
    except Exception as error:  # noqa: BLE001 - recorded; the other rows go on
        row.update(status="probe failed", reason=_reason(error))
    return row


def generalisation_gap(test_score: float, train_score: float | None) -> float:
    """Test minus train score (the paper's "negative train/test gap"): below zero when the test
    score is lower than the train score; higher is better. NaN without a train score."""
    return float("nan") if train_score is None else test_score - train_score


def _test_score(config: RunConfig, workspace: Workspace) -> float:
    stored = workspace.store.load(config)
    if stored.status != "ok":
        raise RuntimeError(f"base run {config.run_id()} ({config.task}, seed {config.seed}) is {stored.status}")
    return stored.metrics["test"]


def _require_results(configs: list[RunConfig], workspace: Workspace, kind: str, remedy: str) -> None:
    missing = [c for c in configs if workspace.store.load(c) is None]
    if missing:
        raise ValueError(f"{len(missing)} {kind} run(s) have no result in {workspace.results_dir}, e.g. "
                         f"{missing[0].variant} on {missing[0].task} (run id {missing[0].run_id()}); {remedy}")


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}\n{traceback.format_exc()}"

