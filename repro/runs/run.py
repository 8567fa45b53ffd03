"""Run one configuration end to end and store its result: the entry point every executor calls."""
from __future__ import annotations

import functools
import hashlib
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from repro.runs.config import RunConfig
from repro.data import RunSplits, TaskSpec, load_task, resolve_data_dir, split_indices
from repro.data.token_cache import encoded_task
from repro.training.decoder_first import decoder_first
from repro.training.evaluation import evaluate, run_scores
from repro.models import DecoderSpec, TaskModel, build_task_model, encoder_parameters, load_encoder, load_tokenizer
from repro.runs.store import FINISHED, NotComputed, ResultStore, RunResult, environment_info
from repro.training.tuned_weights import TunedWeights
from repro.selection.selectors import Mask
from repro.variants.context import RunContext
from repro.variants.registry import variant_of


@dataclass(frozen=True)
class Workspace:
    """Where data comes from and results go; not part of a run's identity.

    data_dir: a local data folder, or None for REPRO_DATA_DIR, or else the Hugging Face hub.
    reference_dir: a read-only reference store of finished records (`repro.runs.reference`),
    read after `results_dir` and never written; None: none.
    train: False: nothing is trained or computed; a run (or probe) in neither store is pending
    and asking for it raises `NotComputed`.
    `store` is one ResultStore per workspace (it remembers the reference records it ignores).
    """

    results_dir: Path
    data_dir: Path | None = None
    device: str = "cpu"
    progress: bool = True
    reference_dir: Path | None = None
    train: bool = True
    _store: ResultStore = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.reference_dir is not None:
            if not Path(self.reference_dir).is_dir():
                raise ValueError(f"reference_dir {str(self.reference_dir)!r} is not a folder")
            if Path(self.reference_dir).resolve() == Path(self.results_dir).resolve():
                raise ValueError(f"results_dir and reference_dir are both {str(self.results_dir)!r}: the reference "
                                 f"is read-only, so results must go to another folder")
        object.__setattr__(self, "_store", ResultStore(self.results_dir, self.reference_dir))

    @classmethod
    def create(cls, results_dir, data_dir=None, device: str | None = None, progress: bool = True,
               reference_dir=None, train: bool = True) -> "Workspace":
        """Resolve the data folder (argument, else REPRO_DATA_DIR, else hub) and the device
        (CUDA when present, unless given). ValueError when `reference_dir` is not a folder or is
        the results folder."""
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        reference = None if reference_dir is None else Path(reference_dir)
        return cls(Path(results_dir), resolve_data_dir(data_dir), device, progress, reference, bool(train))

    @property
    def data_source(self) -> str:
        return "hub" if self.data_dir is None else "local"

    @property
    def store(self) -> ResultStore:
        return self._store

    def not_computed(self, what: str) -> NotComputed:
        """The error for `what` (e.g. "run 0123... (random, sst2, ...)") missing from both stores
        of a workspace that does not train."""
        where = str(self.results_dir) + ("" if self.reference_dir is None else f" or the reference {self.reference_dir}")
        return NotComputed(f"{what} is not in {where}, and this workspace does not train (train=False): "
                           f"it is pending")


@dataclass(frozen=True)
class PreparedData:
    """A task's splits for one seed and their encodings (same order); `fingerprint` is the
    task data's (`repro.data.fingerprint`)."""

    spec: TaskSpec
    splits: RunSplits
    train: list
    validation: list
    test: list
    pad_token_id: int
    fingerprint: str

    def cache_key(self, config: RunConfig) -> str:
        """The key of what is cached per initial decoder (the decoder itself, the downstream
        Fisher): `config.decoder_key()` and this data's fingerprint."""
        return hashlib.sha256(f"{config.decoder_key()}-{self.fingerprint}".encode()).hexdigest()[:16]


def prepare_data(task: str, data_dir: Path | None, model: str, max_length: int, train_size: int | None,
                 val_size: int, seed: int, cache_dir: Path | None = None) -> PreparedData:
    """Split and tokenise a task for one seed. Encodings of the whole task are cached on disk
    under `cache_dir` and read once per process (per data fingerprint: data changed on disk is
    prepared again), and each seed's splits are kept too, so a sweep tokenises each task once
    and a worker process reads it once."""
    fingerprint = load_task(task, data_dir).fingerprint
    return _prepare_cached(task, data_dir, fingerprint, model, max_length, train_size, val_size, seed, cache_dir)


@functools.lru_cache(maxsize=8)
def _prepare_cached(task: str, data_dir: Path | None, fingerprint: str, model: str, max_length: int,
                    train_size: int | None, val_size: int, seed: int, cache_dir: Path | None) -> PreparedData:
    data, train_all, test, pad_token_id = _encoded_cached(task, data_dir, fingerprint, model, max_length, cache_dir)
    train_index, val_index = split_indices(len(data.train), train_size, val_size, seed, task)
    splits = RunSplits(train=[data.train[i] for i in train_index], validation=[data.train[i] for i in val_index],
                       test=data.test)
    return PreparedData(data.spec, splits, [train_all[i] for i in train_index], [train_all[i] for i in val_index],
                        test, pad_token_id, data.fingerprint)


@functools.lru_cache(maxsize=4)
def _encoded_cached(task: str, data_dir: Path | None, fingerprint: str, model: str, max_length: int,
                    cache_dir: Path | None) -> tuple:
    """(task data, train encodings, test encodings, pad token id) of a whole task: reading the
    token cache takes seconds, so once per process and task, whatever the seeds and sizes."""
    data = load_task(task, data_dir)
    tokenizer = load_tokenizer(model)
    return (data, *encoded_task(data, tokenizer, model, max_length, cache_dir), tokenizer.pad_token_id)


def _prepare(config: RunConfig, workspace: Workspace) -> PreparedData:
    return prepare_data(config.task, workspace.data_dir, config.model, config.max_length, config.train_size,
                        config.val_size, config.seed, workspace.store.cache_dir)


def _model_with_decoder_first(config: RunConfig, data: PreparedData, workspace: Workspace,
                              timings: dict | None = None, since: float | None = None):
    """The run's starting model (pretrained, or the tuned encoder of `config.init_from`) with
    its initial decoder (cached per `config.decoder_key()`). Adds the seconds of the two phases
    to `timings` (`load_s`, `decoder_s`) when given, the first lap from `since` (default: now)."""
    timings = {} if timings is None else timings
    clock = time.perf_counter() if since is None else since
    torch.manual_seed(config.seed)
    model = build_task_model(config.model, DecoderSpec(data.spec.kind, len(data.spec.label_names)), config.seed)
    if config.init_from is not None:
        load_or_train_tuned_weights(_stored_config(config.init_from, workspace), workspace).load_encoder_into(model.encoder)
    clock = _lap(timings, "load_s", clock)
    cache_file = workspace.store.cache_dir / "decoders" / f"{data.cache_key(config)}.safetensors"
    decoder = decoder_first(model, data.train, config.decoder, seed=config.seed, pad_token_id=data.pad_token_id,
                            cache_file=cache_file, device=workspace.device, progress=workspace.progress)
    _lap(timings, "decoder_s", clock)
    return model, decoder


def _lap(timings: dict, phase: str, since: float) -> float:
    """Add the wall seconds since `since` to `timings[phase]`; returns the time now."""
    now = time.perf_counter()
    timings[phase] = timings.get(phase, 0.0) + now - since
    return now


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
    """Decoder-first, then the variant selects (or wraps) and trains, then score the run
    (`repro.training.evaluation.run_scores`: validation, test and a fixed sample of the training
    split), and keep the tuned weights (`ResultStore.weights_path`; the variant's `finish` first,
    e.g. LoRA's adapters merged into the encoder). Raises on errors (see `run_one`).

    `timings` holds the wall seconds of each phase: prepare_s (data: split, tokenised), load_s
    (the starting model: a copy of the encoder loaded once per process, theta_0 kept), decoder_s
    (decoder-first, or its cache read), select_s (selection or adapters, and the trainer's setup),
    train_s (the optimizer steps), evaluate_s (evaluate_test_s of it the test split's), write_s
    (finish and the tuned weights) and total_s; the result file itself is written after (`run_one`)."""
    if config.data_source != workspace.data_source:
        raise ValueError(f"config wants {config.data_source!r} data but the workspace reads {workspace.data_source!r}")
    timings: dict = {}
    started = time.perf_counter()
    data = _prepare(config, workspace)
    clock = _lap(timings, "prepare_s", started)
    model, decoder = _model_with_decoder_first(config, data, workspace, timings, since=clock)
    clock = started + sum(timings.values())  # the end of the decoder lap: laps are contiguous, they sum to total_s
    theta_0 = {n: p.detach().clone() for n, p in encoder_parameters(model).items()}
    clock = _lap(timings, "load_s", clock)

    variant = variant_of(config)
    training, selection = variant.train(_context(config, model, data, workspace))
    clock = _lap(timings, "select_s", clock)
    timings["select_s"] -= training.fit.seconds if training else 0.0
    timings.update(decoder_cached=decoder["cached"], train_s=training.fit.seconds if training else 0.0,
                   steps=training.fit.steps if training else 0,
                   optimizer_state_bytes=training.optimizer_state_bytes if training else 0)
    training_record = _training_record(training)
    if training and training.fit.diverged:
        timings["total_s"] = clock - started
        return RunResult(config, "diverged", {"final_train_loss": None}, timings, selection,
                         reason=training.fit.reason, training=training_record, data_fingerprint=data.fingerprint)
    split_seconds: dict = {}
    metrics = run_scores(model, data, device=workspace.device, seconds=split_seconds)
    metrics["final_train_loss"] = training.fit.final_loss if training else None
    clock = _lap(timings, "evaluate_s", clock)
    timings["evaluate_test_s"] = split_seconds["test"]
    variant.finish(model)
    TunedWeights.of(model).save(workspace.store.weights_path(config), initial=theta_0)
    timings["total_s"] = _lap(timings, "write_s", clock) - started
    return RunResult(config, "ok", metrics, timings, selection, training=training_record,
                     data_fingerprint=data.fingerprint)


def _training_record(training) -> dict:
    """The loss curve (20 points) and the divergence rule's values of a run that trained."""
    if training is None:
        return {}
    return {"loss_trace": training.fit.loss_trace(), "divergence": training.fit.divergence}


def _context(config: RunConfig, model: TaskModel, data: PreparedData, workspace: Workspace) -> RunContext:
    tuned_weights = functools.partial(load_or_train_tuned_weights, workspace=workspace)
    return RunContext(config, model, data, workspace, tuned_weights)


def rebuild_selection_mask(config: RunConfig, workspace: Workspace) -> Mask | None:
    """The mask a run trains (diff pruning without re-training: the entries it keeps), made
    again from its starting model and the cached statistics; None for a variant without a
    mask (LoRA: every encoder entry its merged adapters moved)."""
    variant = variant_of(config)
    if not variant.has_mask:
        return None
    data = _prepare(config, workspace)
    model, _ = _model_with_decoder_first(config, data, workspace)
    return variant.mask(_context(config, model, data, workspace))


def load_or_train_tuned_weights(config: RunConfig, workspace: Workspace) -> TunedWeights:
    """A run's tuned weights: from the results folder when the run finished `ok` with them kept
    (a file that cannot be read is set aside), else by running it (again; its result is
    rewritten, the same for a seeded run). Raises RuntimeError when the run diverges or fails."""
    path, stored = workspace.store.weights_path(config), workspace.store.load(config)
    if path.exists() and stored is not None and stored.status == "ok":
        kept = TunedWeights.read(path, initial=initial_encoder(config, workspace))
        if kept is not None:
            return kept
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


@contextmanager
def torch_threads(threads: int):
    """torch's intra-op thread count set to `threads` inside the block, restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_one(config: RunConfig, workspace: Workspace) -> RunResult:
    """Execute one run on `config.threads` torch threads and write its result, whatever
    happens: an exception becomes a `failed` result with the error and traceback, so a sweep
    goes on with the next run. Raises `NotComputed` (and writes nothing) in a workspace that
    does not train."""
    if not workspace.train:
        raise workspace.not_computed(f"run {config.run_id()} ({config.variant}, {config.task}, lr "
                                     f"{config.learning_rate:g}, seed {config.seed})")
    try:
        with torch_threads(config.threads):
            result = train_and_evaluate(config, workspace)
    except Exception as error:  # noqa: BLE001 - every failure is recorded, none is lost
        result = RunResult(config, "failed", reason=f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
    result.environment = environment_info()
    workspace.store.write(result)
    return result


def run_unless_finished(config: RunConfig, workspace: Workspace) -> RunResult:
    """The stored result when the run already finished on the data the workspace reads now
    (`reusable_result`), else `run_one`."""
    return reusable_result(config, workspace) or run_one(config, workspace)


def reusable_result(config: RunConfig, workspace: Workspace, check_data: bool = True) -> RunResult | None:
    """The stored result of a run that finished (ok or diverged), or None. With `check_data`,
    a result made from other data than the workspace reads now is quarantined (None)."""
    stored = workspace.store.load(config)
    if stored is None or stored.status not in FINISHED:
        return None
    if not check_data:
        return stored
    now = current_fingerprint(config, workspace)
    if stored.data_fingerprint != now:
        workspace.store.quarantine(config, f"data changed: the result was made from data {stored.data_fingerprint}, "
                                           f"the data now read is {now}")
        return None
    return stored


def current_fingerprint(config: RunConfig, workspace: Workspace) -> str:
    """The fingerprint of the data `config` would read in `workspace` now."""
    return load_task(config.task, workspace.data_dir).fingerprint
