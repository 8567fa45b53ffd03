"""Benchmarks of repro's training step and selectors against the hardware floor (see speed.py)."""
