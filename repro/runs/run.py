"""Run one configuration end to end and store its result: the entry point every executor calls."""
from __future__ import annotations

import functools
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch

from repro.runs.config import RunConfig
from repro.data import RunSplits, TaskSpec, load_task, resolve_data_dir, split_indices
from repro.data.token_cache import encoded_task
from repro.training.decoder_first import decoder_first
from repro.training.evaluation import evaluate
from repro.selection.statistics import GradientStats, PretrainingSource
from repro.models import DecoderSpec, build_task_model, encoder_parameters, load_encoder, load_tokenizer
from repro.runs.store import FINISHED, ResultStore, RunResult, environment_info
from repro.training.tuned_weights import TunedWeights
from repro.selection.selectors import (DIFF_PRUNING, DIFF_PRUNING_NO_RETRAIN, LORA, Mask, count_parameters, get_selector,
                             mask_size)
from repro.training.trainer import train_entries, train_masked


@dataclass(frozen=True)
class Workspace:
    """Where data comes from and results go; not part of a run's identity.

    data_dir: a local data folder, or None for REPRO_DATA_DIR, or else the Hugging Face hub.
    """

    results_dir: Path
    data_dir: Path | None = None
    device: str = "cpu"
    progress: bool = True

    @classmethod
    def create(cls, results_dir, data_dir=None, device: str | None = None, progress: bool = True) -> "Workspace":
        """Resolve the data folder (argument, else REPRO_DATA_DIR, else hub) and the device
        (CUDA when present, unless given)."""
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return cls(Path(results_dir), resolve_data_dir(data_dir), device, progress)

    @property
    def data_source(self) -> str:
        return "hub" if self.data_dir is None else "local"

    @property
    def store(self) -> ResultStore:
        return ResultStore(self.results_dir)


@dataclass(frozen=True)
class PreparedData:
    """A task's splits for one seed and their encodings (same order)."""

    spec: TaskSpec
    splits: RunSplits
    train: list
    validation: list
    test: list
    pad_token_id: int


@functools.lru_cache(maxsize=8)
def prepare_data(task: str, data_dir: Path | None, model: str, max_length: int, train_size: int | None,
                 val_size: int, seed: int, cache_dir: Path | None = None) -> PreparedData:
    """Split and tokenise a task for one seed. Encodings of the whole task are cached on disk
    under `cache_dir` (and in this process), so a sweep tokenises each task once."""
    data = load_task(task, data_dir)
    tokenizer = load_tokenizer(model)
    train_all, test = encoded_task(data, tokenizer, model, max_length, cache_dir)
    train_index, val_index = split_indices(len(data.train), train_size, val_size, seed, task)
    splits = RunSplits(train=[data.train[i] for i in train_index], validation=[data.train[i] for i in val_index],
                       test=data.test)
    return PreparedData(data.spec, splits, [train_all[i] for i in train_index], [train_all[i] for i in val_index],
                        test, tokenizer.pad_token_id)


def _prepare(config: RunConfig, workspace: Workspace) -> PreparedData:
    return prepare_data(config.task, workspace.data_dir, config.model, config.max_length, config.train_size,
                        config.val_size, config.seed, workspace.store.cache_dir)


def _model_with_decoder_first(config: RunConfig, data: PreparedData, workspace: Workspace):
    """The run's starting model (pretrained, or the tuned encoder of `config.init_from`) with
    its initial decoder (cached per `config.decoder_key()`)."""
    torch.manual_seed(config.seed)
    model = build_task_model(config.model, DecoderSpec(data.spec.kind, len(data.spec.label_names)), config.seed)
    if config.init_from is not None:
        load_or_train_tuned_weights(_stored_config(config.init_from, workspace), workspace).load_encoder_into(model.encoder)
    cache_file = workspace.store.cache_dir / "decoders" / f"{config.decoder_key()}.safetensors"
    decoder = decoder_first(model, data.train, config.decoder, seed=config.seed, pad_token_id=data.pad_token_id,
                            cache_file=cache_file, device=workspace.device, progress=workspace.progress)
    return model, decoder


def _stored_config(run_id: str, workspace: Workspace) -> RunConfig:
    stored = workspace.store.load_by_id(run_id)
    if stored is None:
        raise ValueError(f"init_from {run_id!r}: no such run in {workspace.results_dir}; run the primary run first")
    return stored.config


def initial_encoder(config: RunConfig, workspace: Workspace) -> dict[str, torch.Tensor]:
    """theta_0 of a run: the pretrained encoder, or the tuned one of `config.init_from`."""
    if config.init_from is None:
        return {n: p.detach() for n, p in load_encoder(config.model).named_parameters()}
    return load_or_train_tuned_weights(_stored_config(config.init_from, workspace), workspace).encoder


def train_and_evaluate(config: RunConfig, workspace: Workspace) -> RunResult:
    """Decoder-first, select, train, evaluate on train, validation and test, and keep the tuned
    weights (`ResultStore.weights_path`; LoRA's adapters merged into the encoder). Raises on
    errors (see `run_one`)."""
    if config.data_source != workspace.data_source:
        raise ValueError(f"config wants {config.data_source!r} data but the workspace reads {workspace.data_source!r}")
    started = time.perf_counter()
    data = _prepare(config, workspace)
    prepared = time.perf_counter()
    model, decoder = _model_with_decoder_first(config, data, workspace)
    theta_0 = {n: p.detach().clone() for n, p in encoder_parameters(model).items()}

    if config.selector == LORA:
        training, selection = _train_lora(model, data, config, workspace)
    elif config.selector == DIFF_PRUNING_NO_RETRAIN:
        training, selection = None, _prune_without_retraining(model, data, config, workspace)
    else:
        training, selection = _train_subset(model, data, config, workspace)
    timings = {"prepare_s": prepared - started, "decoder_s": decoder["seconds"], "decoder_cached": decoder["cached"],
               "train_s": training.fit.seconds if training else 0.0, "steps": training.fit.steps if training else 0,
               "optimizer_state_bytes": training.optimizer_state_bytes if training else 0}
    if training and training.fit.diverged:
        return RunResult(config, "diverged", {"final_train_loss": None}, timings, selection,
                         reason=f"non-finite loss or gradient at step {training.fit.steps}")
    evaluation_start = time.perf_counter()
    metrics = {split: evaluate(model, getattr(data.splits, split), getattr(data, split), data.spec,
                               pad_token_id=data.pad_token_id, device=workspace.device)
               for split in ("train", "validation", "test")}
    metrics["final_train_loss"] = training.fit.final_loss if training else None
    timings["evaluate_s"] = time.perf_counter() - evaluation_start
    if config.selector == LORA:
        model.encoder = model.encoder.merge_and_unload()
    TunedWeights.of(model).save(workspace.store.weights_path(config), initial=theta_0)
    timings["total_s"] = time.perf_counter() - started
    return RunResult(config, "ok", metrics, timings, selection)


def _gradient_stats(model, data: PreparedData, config: RunConfig, workspace: Workspace, pruning_cost: dict) -> GradientStats:
    pruning_source = None
    if config.selector in (DIFF_PRUNING, DIFF_PRUNING_NO_RETRAIN):
        pruning_source = functools.cache(lambda: _pruning_weights(config.pruning_run(), workspace, pruning_cost))
    return GradientStats(model, data.train, data.pad_token_id, config.fisher_samples, workspace.store.cache_dir,
                         config.decoder_key(),
                         PretrainingSource(config.model, workspace.data_dir, config.pretrain_fisher_samples),
                         pruning_source, workspace.device, workspace.progress)


def _select(model, data: PreparedData, config: RunConfig, workspace: Workspace, selector_name: str):
    """The mask of `selector_name` at the run's subset size, the stats it used, and its cost record."""
    params = encoder_parameters(model)
    selector = get_selector(selector_name)
    k = selector.k_for(params, config.subset_size)
    pruning_cost: dict = {}
    stats = _gradient_stats(model, data, config, workspace, pruning_cost)
    selection_start = time.perf_counter()
    mask = selector.select(params, k, config.seed, stats)
    selection = {"k": k, "fraction": k / count_parameters(params), "encoder_parameters": count_parameters(params),
                 "seconds": time.perf_counter() - selection_start, **stats.cost, **pruning_cost}
    if mask_size(mask) != k:
        raise AssertionError(f"selector {selector_name!r} returned {mask_size(mask)} entries, expected {k}")
    return mask, stats, selection


def _train_subset(model, data: PreparedData, config: RunConfig, workspace: Workspace):
    """Select the subset (recording its cost) and train it with the decoder."""
    mask, _, selection = _select(model, data, config, workspace, config.selector)
    training = train_masked(model, mask, data.train, config.schedule(), seed=config.seed,
                            pad_token_id=data.pad_token_id, device=workspace.device, progress=workspace.progress,
                            regularization=config.regularization_spec())
    return training, selection


def _train_lora(model, data: PreparedData, config: RunConfig, workspace: Workspace):
    """Add rank-`lora_rank` adapters and train them with the decoder."""
    from repro.training.lora import add_lora, lora_entries

    encoder_size = count_parameters(encoder_parameters(model))
    adapters = add_lora(model, config.lora_rank, config.seed)
    selection = {"k": adapters, "fraction": adapters / encoder_size, "encoder_parameters": encoder_size, "seconds": 0.0}
    training = train_entries(model, lora_entries(model), data.train, config.schedule(), seed=config.seed,
                             pad_token_id=data.pad_token_id, device=workspace.device, progress=workspace.progress)
    return training, selection


def _prune_without_retraining(model, data: PreparedData, config: RunConfig, workspace: Workspace) -> dict:
    """Diff pruning without re-training: the L1 run's k largest changes on theta_0, its decoder."""
    mask, stats, selection = _select(model, data, config, workspace, DIFF_PRUNING)
    stats.pruning_source().apply_pruned(model, mask)
    return selection


def rebuild_selection_mask(config: RunConfig, workspace: Workspace) -> Mask | None:
    """The mask a run trains (diff pruning without re-training: the entries it keeps), made
    again from the pretrained model and the cached statistics; None for LoRA (no mask)."""
    if config.selector == LORA:
        return None
    data = _prepare(config, workspace)
    model, _ = _model_with_decoder_first(config, data, workspace)
    selector = DIFF_PRUNING if config.selector == DIFF_PRUNING_NO_RETRAIN else config.selector
    return _select(model, data, config, workspace, selector)[0]


def _pruning_weights(pruning_run: RunConfig, workspace: Workspace, cost: dict) -> TunedWeights:
    """The tuned weights of diff pruning's L1 run (`load_or_train_tuned_weights`); records in `cost` whether
    they were cached and what the run's training cost."""
    cached = workspace.store.weights_path(pruning_run).exists()
    try:
        weights = load_or_train_tuned_weights(pruning_run, workspace)
    except RuntimeError as error:
        raise RuntimeError(f"diff pruning's L1 run: {error}") from None
    stored = workspace.store.load(pruning_run)
    cost.update(stat_pruning_run=pruning_run.run_id(), stat_pruning_cached=cached,
                stat_pruning_seconds=stored.timings["train_s"], stat_pruning_steps=stored.timings["steps"])
    return weights


def load_or_train_tuned_weights(config: RunConfig, workspace: Workspace) -> TunedWeights:
    """A run's tuned weights: from the results folder when the run finished `ok` with them kept,
    else by running it (again; its result is rewritten, the same for a seeded run). Raises
    RuntimeError when the run diverges or fails."""
    path, stored = workspace.store.weights_path(config), workspace.store.load(config)
    if not (path.exists() and stored is not None and stored.status == "ok"):
        if stored is not None and stored.status == "diverged":
            raise RuntimeError(f"run {config.run_id()} ({config.variant}, {config.task}, lr {config.learning_rate:g}) "
                               f"diverged: it has no tuned weights")
        stored = run_one(config, workspace)
        if stored.status != "ok":
            raise RuntimeError(f"run {config.run_id()} ({config.variant}, {config.task}, lr {config.learning_rate:g}) "
                               f"{stored.status}: {(stored.reason or '').splitlines()[0]}")
    return TunedWeights.load(path, initial=initial_encoder(config, workspace))


def score_after_decoder_only_tuning(config: RunConfig, workspace: Workspace) -> float:
    """Test score of the run's initial decoder on its starting encoder, before any encoder
    entry is trained: section 4's "Sec. (decoder)" when `config.init_from` is a primary run."""
    data = _prepare(config, workspace)
    model, _ = _model_with_decoder_first(config, data, workspace)
    return evaluate(model, data.splits.test, data.test, data.spec, pad_token_id=data.pad_token_id,
                    device=workspace.device)


def run_one(config: RunConfig, workspace: Workspace) -> RunResult:
    """Execute one run and write its result, whatever happens: an exception becomes a
    `failed` result with the error and traceback, so a sweep goes on with the next run."""
    try:
        result = train_and_evaluate(config, workspace)
    except Exception as error:  # noqa: BLE001 - every failure is recorded, none is lost
        result = RunResult(config, "failed", reason=f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
    result.environment = environment_info()
    workspace.store.write(result)
    return result


def run_unless_finished(config: RunConfig, workspace: Workspace) -> RunResult:
    """The stored result when the run already finished (ok or diverged), else `run_one`."""
    stored = workspace.store.load(config)
    if stored is not None and stored.status in FINISHED:
        return stored
    return run_one(config, workspace)
