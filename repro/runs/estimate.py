"""How long runs take: a run's seconds predicted from its config, calibrated on finished runs.

    seconds = steps x step_s  +  test_s + (validation + training sample) x example_s  +  fixed_s
              + first-time costs: the task's tokens, the initial decoder (training examples x decoder_s),
                the downstream statistics (samples x fisher_s), the pretraining statistics, diff
                pruning's L1 run

`step_s` depends on (model, threads, task, max_length, batch size) and the step's kind (masked
subset, bitfit, full, lora); `test_s`, scoring the test split, and `example_s`, scoring one example
of the validation split or the training sample (`repro.training.evaluation`), on (model, threads,
task, max_length; the test split's data source too); `fixed_s` (data, model copy, selection,
writing) on (model, threads). A first-time cost is counted for the first pending run that needs
it, unless a finished record shows it cached, and for each of the first `workers` pending runs
that needs it: they start together and each computes what is not cached yet.

`calibrate` fits every coefficient on run records that carry phase timings (`repro.runs.run.
train_and_evaluate`): per key, the median of the measured ratios (e.g. train_s / steps), the
least-absolute-deviation fit of a one-coefficient model (tokenising a task: its records' largest
data phase, the run that tokenised it). A step kind without records of its own in a group takes
another kind's cost there times their ratio elsewhere (`KIND_FACTORS` when never measured side by
side); a batch size without records scales linearly. Keys without records fall back to
`DEFAULTS`, scaled by how much slower or faster the records' coefficients are than the defaults'
on the keys both have (`Calibration.speed_ratio`: another machine or load); a run with neither has
no estimate (None). Records measured with W runs at once on a
machine predict that load: an estimate's hours with W workers are its seconds / W.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field, replace

from repro.runs.config import RunConfig
from repro.runs.executors import ExecutorConfig
from repro.runs.store import RunResult
from repro.training.evaluation import train_sample_size
from repro.variants.diff_pruning import l1_run

KINDS = ("masked", "bitfit", "full", "lora")
READS = {"largest_downstream_sqgrad": ("downstream",), "largest_pretrain_sqgrad": ("pretraining",),
         "combined": ("downstream", "pretraining")}  # which statistics a score selector reads
PRUNING = ("diff_pruning", "diff_pruning_no_retrain")
TIME_COEFFICIENTS = ("step_s", "test_s", "example_s", "fixed_s", "decoder_s", "fisher_s", "pretraining_s",
                     "tokenise_s")  # the `Calibration` fields in seconds (kind_factors is a ratio)
KIND_FACTORS = {"masked": 1.0, "bitfit": 0.9, "full": 1.4, "lora": 1.2}  # step cost vs a masked step (fallback)

# Coefficients fitted by `calibrate` on benchmarks/estimate_check.py's grid at seed 0 (reference profile scale, 31
# runs through a local pool of 2 workers, as the reference sweep runs them; `--print-defaults`) on 2 CPU cores with
# nothing else running (AMD EPYC, torch 2.13, 2026-12-02); a sweep's own records replace them as they come, and scale
# the rest (`Calibration.speed_ratio`) on another machine. pretraining_s is not in that grid: the cpu profile's note
# (repro.runs.profiles: about 3 min for N=128). Keys as in `Calibration`: lists are the key, then the value.
DEFAULTS: dict = {
    "step_s": [
        ["minilm-l6", 1, "conll03", 128, 16, "bitfit", 0.282], ["minilm-l6", 1, "conll03", 128, 16, "full", 0.465],
        ["minilm-l6", 1, "conll03", 128, 16, "lora", 0.274], ["minilm-l6", 1, "conll03", 128, 16, "masked", 0.3],
        ["minilm-l6", 1, "conll03_de", 128, 16, "full", 0.86],
        ["minilm-l6", 1, "conll03_de", 128, 16, "masked", 0.583], ["minilm-l6", 1, "qnli", 64, 16, "bitfit", 0.575],
        ["minilm-l6", 1, "qnli", 64, 16, "full", 0.872], ["minilm-l6", 1, "qnli", 64, 16, "lora", 0.569],
        ["minilm-l6", 1, "qnli", 64, 16, "masked", 0.636], ["minilm-l6", 1, "sst2", 64, 16, "bitfit", 0.175],
        ["minilm-l6", 1, "sst2", 64, 16, "full", 0.393], ["minilm-l6", 1, "sst2", 64, 16, "lora", 0.174],
        ["minilm-l6", 1, "sst2", 64, 16, "masked", 0.242], ["minilm-l6", 1, "trec6", 64, 16, "bitfit", 0.176],
        ["minilm-l6", 1, "trec6", 64, 16, "full", 0.411], ["minilm-l6", 1, "trec6", 64, 16, "lora", 0.188],
        ["minilm-l6", 1, "trec6", 64, 16, "masked", 0.223]],
    "test_s": [
        ["minilm-l6", 1, "conll03", 128, "local", 22.7], ["minilm-l6", 1, "conll03_de", 128, "local", 38.6],
        ["minilm-l6", 1, "qnli", 64, "local", 17], ["minilm-l6", 1, "sst2", 64, "local", 7.08],
        ["minilm-l6", 1, "trec6", 64, "local", 1.9]],
    "example_s": [
        ["minilm-l6", 1, "conll03", 128, 0.00861], ["minilm-l6", 1, "conll03_de", 128, 0.017],
        ["minilm-l6", 1, "qnli", 64, 0.0154], ["minilm-l6", 1, "sst2", 64, 0.00631],
        ["minilm-l6", 1, "trec6", 64, 0.00512]],
    "fixed_s": [
        ["minilm-l6", 1, 0.373]],
    "decoder_s": [
        ["minilm-l6", 1, "conll03", 128, 0.0109], ["minilm-l6", 1, "conll03_de", 128, 0.0182],
        ["minilm-l6", 1, "qnli", 64, 0.0147], ["minilm-l6", 1, "sst2", 64, 0.0124],
        ["minilm-l6", 1, "trec6", 64, 0.00595]],
    "fisher_s": [
        ["minilm-l6", 1, "conll03", 128, 0.0299], ["minilm-l6", 1, "qnli", 64, 0.054],
        ["minilm-l6", 1, "sst2", 64, 0.0212], ["minilm-l6", 1, "trec6", 64, 0.0179]],
    "pretraining_s": [
        ["minilm-l6", 1, 1.4]],
    "tokenise_s": [
        ["minilm-l6", "conll03", 128, "local", 3.67], ["minilm-l6", "conll03_de", 128, "local", 2.12],
        ["minilm-l6", "qnli", 64, "local", 1.72], ["minilm-l6", "sst2", 64, "local", 8.05],
        ["minilm-l6", "trec6", 64, "local", 0.458]],
    "kind_factors": [
        ["bitfit", 0.847], ["full", 1.55], ["lora", 0.871], ["masked", 1]],
}


@dataclass
class Calibration:
    """Coefficients by key (see the module docstring); `records`: how many records they come from."""

    step_s: dict = field(default_factory=dict)        # (model, threads, task, max_length, batch, kind) -> s/step
    test_s: dict = field(default_factory=dict)        # (model, threads, task, max_length, data_source) -> s
    example_s: dict = field(default_factory=dict)     # (model, threads, task, max_length) -> s/validation example
    fixed_s: dict = field(default_factory=dict)       # (model, threads) -> s per run
    decoder_s: dict = field(default_factory=dict)     # (model, threads, task, max_length) -> s/training example
    fisher_s: dict = field(default_factory=dict)      # (model, threads, task, max_length) -> s/Fisher sample
    pretraining_s: dict = field(default_factory=dict)  # (model, threads) -> s/requested WikiText sample
    tokenise_s: dict = field(default_factory=dict)    # (model, task, max_length, data_source) -> s
    kind_factors: dict = field(default_factory=dict)  # kind -> measured step cost vs a masked step
    records: int = 0

    def factor(self, kind: str) -> float:
        """A kind's step cost relative to a masked step: measured, else `KIND_FACTORS`."""
        return self.kind_factors.get(kind, KIND_FACTORS[kind])

    def speed_ratio(self, other: "Calibration") -> float:
        """How much slower these coefficients are than `other`'s (another machine, load or worker
        count): the median ratio over the time coefficients both have; 1.0 when they share none."""
        ratios = [mine / theirs for name in TIME_COEFFICIENTS
                  for key, mine in getattr(self, name).items()
                  if (theirs := getattr(other, name).get(key)) and mine > 0]
        return statistics.median(ratios) if ratios else 1.0

    def over(self, fallback: "Calibration") -> "Calibration":
        """These coefficients, and `fallback`'s where these have none, scaled by `speed_ratio`:
        records of this machine say how far the fallback's (e.g. `DEFAULTS`, fitted elsewhere) are off."""
        ratio = self.speed_ratio(fallback)
        merged = {name: {**{key: value * ratio for key, value in getattr(fallback, name).items()}, **getattr(self, name)}
                  for name in TIME_COEFFICIENTS}
        return replace(self, **merged, kind_factors={**fallback.kind_factors, **self.kind_factors})

    def to_dict(self) -> dict:
        """Plain data (keys as lists), e.g. to print as `DEFAULTS`."""
        return {name: [[*k, v] if isinstance(k, tuple) else [k, v] for k, v in getattr(self, name).items()]
                for name in (*TIME_COEFFICIENTS, "kind_factors")}

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        return cls(**{name: {(tuple(row[:-1]) if len(row) > 2 else row[0]): row[-1] for row in rows}
                      for name, rows in data.items()})


def step_kind(config: RunConfig) -> str | None:
    """The kind of optimizer step a run takes: one of `KINDS`, None when it trains nothing (diff
    pruning without re-training: the L1 run trains)."""
    if config.selector == "diff_pruning_no_retrain":
        return None
    return config.selector if config.selector in KINDS else "masked"


def _group(config: RunConfig) -> tuple:
    return (config.model, config.threads, config.task, config.max_length)


def _median(values) -> dict:
    return {key: statistics.median(v) for key, v in values.items() if v}


def calibrate(records: list[RunResult]) -> Calibration:
    """Fit the coefficients on records of finished runs (ok or diverged) that carry phase timings;
    other records are left out."""
    timed = [r for r in records if r.status in ("ok", "diverged") and "select_s" in r.timings]
    steps, examples, tests, fixed, decoder, fisher, pretraining = (defaultdict(list) for _ in range(7))
    tokenise: dict = {}
    for record in timed:
        config, t, sel = record.config, record.timings, record.selection
        group, kind = _group(config), step_kind(config)
        tokens = _tokens_key(config)[1:]
        tokenise[tokens] = max(tokenise.get(tokens, 0.0), t["prepare_s"])
        if kind and t["steps"]:
            steps[(*group, config.batch_size, kind)].append(t["train_s"] / t["steps"])
        once = 0.0
        if not t["decoder_cached"]:
            decoder[group].append(t["decoder_s"] / len_train(record))
            once += t["decoder_s"]
        if sel.get("stat_downstream_cached") is False:
            fisher[group].append(sel["stat_downstream_seconds"] / sel["stat_downstream_samples"])
            once += sel["stat_downstream_seconds"]
        if sel.get("stat_pretraining_cached") is False:
            pretraining[(config.model, config.threads)].append(sel["stat_pretraining_seconds"]
                                                               / config.pretrain_fisher_samples)
            once += sel["stat_pretraining_seconds"]
        if record.status == "ok":
            tests[(*group, config.data_source)].append(t["evaluate_test_s"])
            examples[group].append((t["evaluate_s"] - t["evaluate_test_s"])
                                   / (config.val_size + record.metrics["train_examples"]))
            if sel.get("stat_pruning_cached") is not False:  # else the L1 run is inside select_s
                fixed[(config.model, config.threads)].append(
                    t["total_s"] - t["train_s"] - t["evaluate_s"] - once)
    return Calibration(_median(steps), _median(tests), _median(examples),
                       _median(fixed), _median(decoder), _median(fisher), _median(pretraining), tokenise,
                       _kind_factors(_median(steps)), len(timed))


def _kind_factors(step_s: dict) -> dict:
    """Each kind's step cost relative to a masked step, the median ratio over groups with both."""
    ratios = defaultdict(list)
    for (*group, kind), seconds in step_s.items():
        masked = step_s.get((*group, "masked"))
        if masked:
            ratios[kind].append(seconds / masked)
    return _median(ratios)


def _step_seconds(c: Calibration, config: RunConfig, kind: str) -> float | None:
    """Seconds per step: measured for the kind, else another kind's times the kind ratio; at
    another batch size, scaled linearly."""
    candidates = []
    for (model, threads, task, max_length, batch, other), seconds in c.step_s.items():
        if (model, threads, task, max_length) == _group(config):
            scale = config.batch_size / batch * c.factor(kind) / c.factor(other)
            rank = (other != kind, batch != config.batch_size)
            candidates.append((rank, seconds * scale))
    return min(candidates)[1] if candidates else None


def train_examples(config: RunConfig, steps: int) -> int:
    """Examples in a run's training split: `train_size`, else (all the task's data) the most its
    steps allow, steps per epoch times the batch size."""
    return config.train_size or steps // config.epochs * config.batch_size


def len_train(record: RunResult) -> int:
    """Examples in a finished run's training split (`train_examples`)."""
    return train_examples(record.config, record.timings["steps"])


@dataclass
class Estimate:
    """Predicted seconds of pending runs, one after another (with W workers: about total / W)."""

    seconds: list[float | None]  # per pending run, first-time costs included where first needed
    calibration: Calibration

    @property
    def total(self) -> float:
        """The sum over runs that have an estimate."""
        return sum(s for s in self.seconds if s is not None)

    @property
    def unknown(self) -> int:
        """Runs without an estimate (no record and no default for their model, task, scale)."""
        return sum(s is None for s in self.seconds)


def estimate(pending: list[RunConfig], steps: list[int], records: list[RunResult], workers: int = 1,
             calibration: Calibration | None = None) -> Estimate:
    """Seconds of each pending run; `steps`: each one's optimizer steps by its schedule
    (`repro.runs.sweep.training_steps`). `records`: finished results, which show what is cached
    and give the calibration (over `DEFAULTS`) unless `calibration` is given. `workers`: runs
    started together at first (each pays what is not cached yet)."""
    c = calibration or calibrate(records).over(Calibration.from_dict(DEFAULTS))
    done = set()  # first-time costs counted already, or cached
    for record in records:
        if record.status in ("ok", "diverged"):
            done |= {record.config.run_id(), *_first_time_keys(record.config)}
    done |= {config.run_id() for config in pending}  # an L1 run in the grid is counted as itself
    seconds, started_together = [], set()
    for index, (config, n_steps) in enumerate(zip(pending, steps)):
        total = _run_seconds(c, config, n_steps)
        computed = done - started_together if index < workers else done
        for key in sorted(_first_time_keys(config) - computed, key=str):
            once = _first_time_seconds(c, key, config, n_steps)
            total = None if total is None or once is None else total + once
            done.add(key)
            if index < workers:
                started_together.add(key)
        seconds.append(total)
    return Estimate(seconds, c)


def _run_seconds(c: Calibration, config: RunConfig, steps: int) -> float | None:
    kind, group = step_kind(config), _group(config)
    test, example, fixed = (c.test_s.get((*group, config.data_source)), c.example_s.get(group),
                            c.fixed_s.get((config.model, config.threads)))
    step = 0.0 if kind is None else _step_seconds(c, config, kind)
    if None in (step, test, example, fixed):
        return None
    scored = config.val_size + train_sample_size(train_examples(config, steps))
    return steps * step + test + scored * example + fixed


def _first_time_keys(config: RunConfig) -> set:
    """What a run computes once and caches: its initial decoder, the statistics it reads, and
    diff pruning's L1 run (by run id)."""
    keys = {_tokens_key(config), ("decoder", config.decoder_key())}
    reads = READS.get(config.selector, ())
    if "downstream" in reads:
        keys.add(("downstream", config.decoder_key(), config.fisher_samples))
    if "pretraining" in reads:
        keys.add(("pretraining", config.model, config.threads, config.pretrain_fisher_samples, config.data_source))
    if config.selector in PRUNING:
        keys.add(l1_run(config).run_id())
    return keys


def _tokens_key(config: RunConfig) -> tuple:
    return ("tokens", config.model, config.task, config.max_length, config.data_source)


def _first_time_seconds(c: Calibration, key, config: RunConfig, steps: int) -> float | None:
    group, n_train = _group(config), train_examples(config, steps)
    if isinstance(key, str):  # diff pruning's L1 run: full fine-tuning on the run's schedule and data
        return _run_seconds(c, l1_run(config), steps)
    if key[0] == "tokens":
        return c.tokenise_s.get(key[1:])
    per = {"decoder": c.decoder_s.get(group), "downstream": c.fisher_s.get(group),
           "pretraining": c.pretraining_s.get((config.model, config.threads))}[key[0]]
    count = {"decoder": n_train, "downstream": min(config.fisher_samples, n_train),
             "pretraining": config.pretrain_fisher_samples}[key[0]]
    return None if per is None else per * count


def workers_of(executor: ExecutorConfig) -> int:
    """Runs an executor runs at once: 1 serial, its processes (local), its array's cap (slurm)."""
    return {"serial": 1, "local": executor.workers, "slurm": executor.array_parallelism}[executor.name]


def hours(seconds: float) -> str:
    """"2.4 h", or "35 min" below 0.1 h."""
    return f"{seconds / 3600:.1f} h" if seconds >= 360 else f"{seconds / 60:.0f} min"


def start_line(result: Estimate, finished: int, workers: int) -> str:
    """Printed before a sweep starts, e.g. "120 runs to train, 30 finished, estimated 4.2 h on
    this machine with 2 workers (calibrated on 30 records)"."""
    known = "" if not result.unknown else f" for {len(result.seconds) - result.unknown} of them ({result.unknown} " \
                                           f"without records or defaults for their model, task and scale)"
    return (f"{len(result.seconds)} runs to train, {finished} finished, estimated {hours(result.total / workers)}"
            f"{known} on this machine with {workers} worker{'s' * (workers != 1)} "
            f"(calibrated on {result.calibration.records} records, else defaults)")


def end_line(runs: int, seconds: float, result: Estimate, workers: int) -> str:
    """Printed when a sweep ends, e.g. "118 runs in 250 min: 28 runs/hour, estimate was 4.2 h (+1% off)"."""
    rate = runs * 3600 / seconds if seconds > 0 else float("nan")
    predicted = result.total / workers
    off = "" if result.unknown or not predicted else f" ({(predicted - seconds) / seconds:+.0%} off)"
    return f"{runs} runs in {seconds / 60:.0f} min: {rate:.3g} runs/hour, estimate was {hours(predicted)}{off}"
