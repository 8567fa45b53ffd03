"""The run-time estimate: calibrated on records' phase timings, first-time costs counted once,
fallbacks for kinds and batch sizes not measured, and the sweep's two lines."""
from __future__ import annotations

import pytest

from repro.runs.config import RunConfig
from repro.runs.estimate import Calibration, calibrate, end_line, estimate, start_line, step_kind
from repro.runs.store import RunResult
from repro.variants.diff_pruning import l1_run

BASE = dict(task="sst2", model="minilm-l6", train_size=400, val_size=100, epochs=1, batch_size=16, max_length=64)


def config(**changes) -> RunConfig:
    fields = {**BASE, "selector": "random", "subset_size": 1e-3, "learning_rate": 1e-3, **changes}
    if fields["selector"] in ("bitfit", "full", "lora", "diff_pruning_no_retrain"):
        fields["subset_size"] = None
    if fields["selector"].startswith("diff_pruning"):
        fields.setdefault("pruning_l1", 1e-3)
        if fields["selector"] == "diff_pruning":
            fields.setdefault("pruning_learning_rate", 1e-4)
    return RunConfig(**fields)


def record(cfg: RunConfig, step_s: float, *, eval_s_per=0.002, fixed=1.5, decoder=None, fisher=None,
           test_s=3.0) -> RunResult:
    """A finished run's record: steps at `step_s`, the test split in `test_s`, the validation split
    and training sample at `eval_s_per` an example, `fixed` seconds besides, and the decoder's /
    downstream statistics' seconds when it computed them."""
    steps = -(-cfg.train_size // cfg.batch_size) * cfg.epochs
    sample = min(1000, cfg.train_size)
    once = (decoder or 0.0) + (fisher or 0.0)
    timings = dict(prepare_s=0.1, load_s=0.1, decoder_s=decoder or 0.01, decoder_cached=decoder is None,
                   select_s=0.5, train_s=steps * step_s, steps=steps, evaluate_test_s=test_s,
                   evaluate_s=test_s + (sample + cfg.val_size) * eval_s_per, write_s=0.2)
    timings["total_s"] = timings["train_s"] + timings["evaluate_s"] + fixed + once
    selection = {} if fisher is None else dict(stat_downstream_cached=False, stat_downstream_seconds=fisher,
                                               stat_downstream_samples=min(cfg.fisher_samples, cfg.train_size))
    return RunResult(cfg, "ok", {"validation": 0.5, "test": 0.5, "train": 0.6, "train_examples": sample}, timings,
                     selection)


def steps_of(cfg: RunConfig) -> int:
    return -(-cfg.train_size // cfg.batch_size) * cfg.epochs


def test_kinds():
    assert [step_kind(config(selector=s)) for s in ("random", "bitfit", "full", "lora", "largest_downstream_sqgrad",
                                                    "diff_pruning", "diff_pruning_no_retrain")] == \
        ["masked", "bitfit", "full", "lora", "masked", "masked", None]


def test_calibration_is_the_median_of_each_measured_ratio():
    records = [record(config(learning_rate=lr), s, decoder=d) for lr, s, d in
               ((1e-3, 0.10, 4.0), (2e-3, 0.12, None), (3e-3, 0.30, None))]  # one slow outlier
    c = calibrate(records + [RunResult(config(seed=5), "failed", reason="x")])
    group = ("minilm-l6", 1, "sst2", 64)
    assert c.step_s[(*group, 16, "masked")] == pytest.approx(0.12)
    assert c.example_s[group] == pytest.approx(0.002) and c.test_s[(*group, "local")] == pytest.approx(3.0)
    assert c.fixed_s[("minilm-l6", 1)] == pytest.approx(1.5)  # the decoder's first-time seconds left out
    assert c.decoder_s[group] == pytest.approx(4.0 / 400) and c.records == 3


def test_estimate_is_steps_evaluation_and_fixed_plus_first_time_costs_once():
    records = [record(config(), 0.1, decoder=4.0), record(config(selector="largest_downstream_sqgrad"), 0.1,
                                                          fisher=8.0)]
    c = calibrate(records).over(Calibration())
    new_data = dict(train_size=800)  # another decoder and other statistics: not cached
    pending = [config(**new_data), config(selector="largest_downstream_sqgrad", **new_data),
               config(selector="largest_downstream_sqgrad", learning_rate=5e-3, **new_data), config(learning_rate=9e-3)]
    result = estimate(pending, [steps_of(p) for p in pending], records, calibration=c)
    run = {cfg.train_size: steps_of(cfg) * 0.1 + 3.0 + (min(1000, cfg.train_size) + 100) * 0.002 + 1.5
           for cfg in pending}
    decoder, fisher = 4.0 / 400 * 800, 8.0 / 400 * 800  # per training example, per Fisher sample (N 1024: all)
    assert result.seconds == pytest.approx([run[800] + decoder, run[800] + fisher, run[800], run[400]])
    assert result.unknown == 0 and result.total == pytest.approx(sum(result.seconds))


def test_a_kind_or_batch_size_without_records_is_scaled_from_the_measured_ones():
    records = [record(config(), 0.1), record(config(selector="full"), 0.2),
               record(config(task="trec6"), 0.05, test_s=1.0)]
    c = calibrate(records).over(Calibration())
    assert c.kind_factors["full"] == pytest.approx(2.0)  # measured side by side on sst2
    pending = [config(task="trec6", selector="full"), config(batch_size=32)]
    result = estimate(pending, [steps_of(p) for p in pending], records, calibration=c)
    assert result.seconds[0] == pytest.approx(steps_of(pending[0]) * 0.1 + 1.0 + (400 + 100) * 0.002 + 1.5)
    assert result.seconds[1] == pytest.approx(steps_of(pending[1]) * 0.2 + 3.0 + (400 + 100) * 0.002 + 1.5)


def test_unknown_scale_has_no_estimate_and_the_lines_say_so():
    records = [record(config(), 0.1)]
    pending = [config(learning_rate=5e-3), config(model="tiny-random")]
    result = estimate(pending, [steps_of(p) for p in pending], records, calibration=calibrate(records))
    assert result.seconds[0] is not None and result.seconds[1] is None and result.unknown == 1
    line = start_line(result, finished=1, workers=2)
    assert line.startswith("2 runs to train, 1 finished, estimated ") and "with 2 workers" in line
    assert "for 1 of them (1 without records" in line
    done = end_line(2, 120.0, result, workers=2)
    assert done.startswith("2 runs in 2 min: 60 runs/hour, estimate was ")


def test_diff_pruning_counts_its_l1_run_once_unless_it_finished():
    records = [record(config(), 0.1), record(config(selector="full", learning_rate=1e-4), 0.2)]
    c = calibrate(records).over(Calibration())
    pending = [config(selector="diff_pruning"), config(selector="diff_pruning", learning_rate=2e-3),
               config(selector="diff_pruning_no_retrain", learning_rate=1e-4),  # the same L1 run (rate 1e-4)
               config(selector="diff_pruning_no_retrain", learning_rate=3e-4)]  # an L1 run of its own
    result = estimate(pending, [steps_of(p) for p in pending], records, calibration=c)
    evaluation_and_fixed = 3.0 + (400 + 100) * 0.002 + 1.5
    masked, l1 = steps_of(pending[0]) * 0.1 + evaluation_and_fixed, steps_of(pending[0]) * 0.2 + evaluation_and_fixed
    assert result.seconds == pytest.approx([masked + l1, masked, evaluation_and_fixed, evaluation_and_fixed + l1])
    finished_l1 = record(l1_run(pending[0]), 0.2)
    again = estimate(pending[:1], [steps_of(pending[0])], records + [finished_l1], calibration=c)
    assert again.seconds == pytest.approx([masked])


def test_calibration_round_trips_through_plain_data():
    c = calibrate([record(config(), 0.1, decoder=2.0)])
    again = Calibration.from_dict(c.to_dict())
    assert again.step_s == c.step_s and again.test_s == c.test_s and again.fixed_s == c.fixed_s


def test_runs_started_together_each_pay_what_is_not_cached_and_later_runs_do_not():
    records = [record(config(), 0.1, decoder=4.0)]
    records[0].timings["prepare_s"] = 20.0  # this run tokenised SST-2
    c = calibrate(records).over(Calibration())
    assert c.tokenise_s[("minilm-l6", "sst2", 64, "local")] == 20.0
    hub = ("minilm-l6", "sst2", 64, "hub")
    c.tokenise_s[hub], c.test_s[("minilm-l6", 1, "sst2", 64, "hub")] = 30.0, 3.0  # as defaults would give them
    pending = [config(data_source="hub", learning_rate=r) for r in (1e-3, 2e-3, 3e-3)]  # nothing cached
    run = steps_of(pending[0]) * 0.1 + 3.0 + (400 + 100) * 0.002 + 1.5
    first_time = 30.0 + 4.0 / 400 * 400  # tokens and decoder
    alone = estimate(pending, [steps_of(p) for p in pending], records, workers=1, calibration=c)
    together = estimate(pending, [steps_of(p) for p in pending], records, workers=2, calibration=c)
    assert alone.seconds == pytest.approx([run + first_time, run, run])
    assert together.seconds == pytest.approx([run + first_time, run + first_time, run])
    cached = estimate([config(learning_rate=5e-3)], [steps_of(pending[0])], records, workers=2, calibration=c)
    assert cached.seconds == pytest.approx([run])


def test_defaults_fitted_elsewhere_are_scaled_by_how_much_slower_this_machine_is():
    group = ("minilm-l6", 1, "sst2", 64)
    elsewhere = Calibration(step_s={(*group, 16, "masked"): 0.05, ("minilm-l6", 1, "qnli", 64, 16, "masked"): 0.2},
                            test_s={(*group, "local"): 1.5}, example_s={group: 0.001},
                            fixed_s={("minilm-l6", 1): 0.75}, kind_factors={"full": 3.0})
    here = calibrate([record(config(), 0.1)])  # sst2 measured here at twice the defaults' seconds
    assert here.speed_ratio(elsewhere) == pytest.approx(2.0) and elsewhere.speed_ratio(Calibration()) == 1.0
    merged = here.over(elsewhere)
    assert merged.step_s[("minilm-l6", 1, "qnli", 64, 16, "masked")] == pytest.approx(0.4)  # not measured: scaled
    assert merged.step_s[(*group, 16, "masked")] == pytest.approx(0.1)  # measured: kept
    assert merged.kind_factors["full"] == 3.0  # a ratio, not scaled
    assert Calibration().over(elsewhere).step_s == elsewhere.step_s  # no records: the defaults as they are
