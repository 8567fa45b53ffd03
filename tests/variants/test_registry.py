"""The variant registry: names parse into RunConfig fields and back, every method meets the
contract, and bad names or settings fail with the field named, before any training."""
from __future__ import annotations

import pytest

from repro.models import DecoderSpec, build_task_model, encoder_parameters
from repro.runs.config import RunConfig
from repro.selection.selectors import bitfit_k, count_parameters, subset_k
from repro.variants import subset
from repro.variants.lora import rank_variant
from repro.variants.registry import (VARIANTS, Variant, get_variant, representatives, variant_fields, variant_name,
                                     variant_named)


def config_for(name: str, **settings) -> RunConfig:
    """A valid config of a variant name (diff pruning's L1 run settings added where it needs them)."""
    fields = variant_fields(name) | variant_named(name).study_fields(_PruningSettings())
    return RunConfig(task="sst2", learning_rate=1e-3, **fields, **settings)


class _PruningSettings:
    pruning_l1, pruning_learning_rate = 0.01, 1e-4


@pytest.mark.parametrize("name", representatives())
def test_names_round_trip(name):
    config = config_for(name)
    assert config.variant == variant_name(config) == name
    assert variant_fields(config.variant) == variant_fields(name)


def test_the_table_holds_every_method_a_penalised_variant_and_the_examples():
    names = representatives()
    assert set(VARIANTS) <= set(names) and "lora:2" in names
    assert any("+l1:" in name for name in names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("variant", VARIANTS.values(), ids=list(VARIANTS))
def test_every_method_meets_the_contract(variant):
    assert isinstance(variant.name, str) and variant.description
    for attribute in Variant.__annotations__:
        assert hasattr(variant, attribute), attribute
    for method in ("fields", "label", "check", "study_fields", "train", "mask", "finish"):
        assert callable(getattr(variant, method)), method
    assert variant_fields(variant.name)["selector"] == variant.name


@pytest.mark.parametrize("variant, fields", [
    ("random", {"selector": "random"}),
    ("full+l1:0.01", {"selector": "full", "regularization": "l1", "regularization_strength": 0.01}),
    ("full+l2:1", {"selector": "full", "regularization": "l2", "regularization_strength": 1.0}),
    ("lora", {"selector": "lora", "lora_rank": 4}),
    ("lora:16", {"selector": "lora", "lora_rank": 16}),
])
def test_variant_names_parse(variant, fields):
    assert variant_fields(variant) == fields


@pytest.mark.parametrize("variant, message", [
    ("full+l3:0.1", "'l3' is not one of"), ("full+l1:x", "could not convert|positive"),
    ("full+l2:0", "positive"), ("magic+l1:0.1", "unknown selector 'magic'.*known selectors.*random"),
    ("random:3", "'random' takes no ':<argument>'"), ("lora+l2:0.1", "'lora' takes none"),
    ("diff_pruning_no_retrain+l1:0.1", "'diff_pruning_no_retrain' takes none"),
])
def test_bad_variant_names_are_rejected(variant, message):
    with pytest.raises(ValueError, match=message):
        variant_fields(variant)


def test_lora_rank_names():
    assert [rank_variant(r) for r in (1, 4, 64)] == ["lora:1", "lora", "lora:64"]
    assert all(variant_fields(rank_variant(r))["lora_rank"] == r for r in (1, 4, 64))


def test_unknown_selector():
    with pytest.raises(ValueError, match="unknown selector 'magic'.*random"):
        get_variant("magic")


@pytest.mark.parametrize("fields, message", [
    (dict(selector="full", regularization="l1"), "must be given together"),
    (dict(selector="full", regularization="elastic", regularization_strength=0.1), "'elastic' is not one of"),
    (dict(selector="lora", regularization="l2", regularization_strength=0.1), "takes none"),
    (dict(selector="random", pruning_l1=0.01), "pruning_l1=0.01 belongs to diff_pruning and diff_pruning_no_retrain"),
    (dict(selector="random", lora_rank=16), "lora_rank=16 belongs to lora, not 'random'"),
    (dict(selector="bitfit", subset_size=0.1), "'bitfit' has a fixed size"),
    (dict(selector="diff_pruning", pruning_l1=0.01), "needs the L1 run's learning rate"),
    (dict(selector="diff_pruning", pruning_l1=0.01, pruning_learning_rate=-1.0), "must be a positive number"),
    (dict(selector="diff_pruning_no_retrain", pruning_l1=0.01, pruning_learning_rate=1e-4), "takes it from"),
    (dict(selector="diff_pruning_no_retrain"), "pruning_l1 None: diff pruning's L1 coefficient must be a positive"),
])
def test_bad_penalty_or_pruning_settings_fail_before_training(fields, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(task="sst2", learning_rate=1e-3, **fields)


def test_subset_sizes_default_to_bitfit_and_fixed_sizes_keep_their_own():
    params = encoder_parameters(build_task_model("tiny-random", DecoderSpec("sequence", 2), seed=0))
    assert subset.RANDOM.k(params, None) == bitfit_k(params) == subset.BITFIT.k(params, None)
    assert subset.RANDOM.k(params, 0.01) == subset_k(params, 0.01)
    assert subset.FULL.k(params, None) == count_parameters(params)
    assert [v.name for v in VARIANTS.values() if v.fixed_size] == ["bitfit", "full", "lora"]
    assert [v.name for v in VARIANTS.values() if not v.efficient] == ["full"]
