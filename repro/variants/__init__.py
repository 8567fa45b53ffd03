"""Variants: the fine-tuning methods the study compares, one module per family, looked up by
name in `repro.variants.registry`."""
