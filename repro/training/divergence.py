"""When a fine-tuning run counts as diverged.

A run diverged when its loss or gradient norm became non-finite, or when its training loss
ended far above where it started: the mean loss of the last `final_fraction` of its steps
(at least `min_window` steps) exceeds `factor` times the loss of its first step (taken before
any update, so it is the starting model's loss on that batch; the decoder was trained first).
A run of fewer than `min_steps` steps (the smoke profile's) is too short for the ratio to mean
anything: only non-finite values count there, and its record says it was not judged.

Why a factor of 1.5 (pilot `pilots/divergence.py`, its losses in `pilots/divergence_losses.json`:
minilm-l6, 1,000 SST-2 / TREC-6 examples, one epoch, learning rates 1e-5 to 1e3 by decades for
full fine-tuning, random 1e-3 and BitFit; 54 runs, gradient clipping kept every loss finite):
no loss became non-finite. Every run at a rate of 0.1 or less ended at 0.29-1.08x its first loss
(below 1 where it learned, about 1 where it stayed near chance). At 1.0 the runs ended at 0.94x
(BitFit, SST-2), 1.57x and 1.91x (random and full fine-tuning, SST-2: a loss above chance) and
3.3-27x on TREC-6; at 10 or more at 18.8x or more (1e3: up to 1.4e7x). 1.5 lies in the gap
between 1.08 and 1.57. Without the ratio, all 54 runs would have been recorded `ok`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class DivergenceRule:
    """`factor` x the first step's loss bounds the mean loss of the final steps."""

    factor: float = 1.5
    final_fraction: float = 0.1
    min_window: int = 5
    min_steps: int = 10

    def __post_init__(self):
        if not (self.factor > 1 and math.isfinite(self.factor)):
            raise ValueError(f"divergence factor {self.factor!r} must be a finite number > 1")
        if not 0 < self.final_fraction <= 1:
            raise ValueError(f"final_fraction {self.final_fraction!r} must be in (0, 1]")
        for name in ("min_window", "min_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} {getattr(self, name)!r} must be >= 1")

    def judge(self, step_losses: tuple[float, ...] | list[float]) -> "Verdict":
        """The verdict on a finished run's per-step losses (all finite)."""
        if len(step_losses) < self.min_steps:
            return Verdict(False, None, None, None, self)
        window = max(self.min_window, math.ceil(self.final_fraction * len(step_losses)))
        final = step_losses[-window:]
        start, end = step_losses[0], sum(final) / len(final)
        ratio = end / start if start > 0 else math.inf
        return Verdict(ratio > self.factor, start, end, ratio, self)


@dataclass(frozen=True)
class Verdict:
    diverged: bool
    start_loss: float | None
    final_loss: float | None  # mean over the final window
    ratio: float | None
    rule: DivergenceRule

    def reason(self) -> str:
        return (f"training loss rose from {self.start_loss:.4g} (first step) to {self.final_loss:.4g} (mean of the "
                f"final steps), {self.ratio:.3g}x > {self.rule.factor:g}x")

    def record(self) -> dict:
        """What a result stores about the rule and this run's values."""
        return {"factor": self.rule.factor, "final_fraction": self.rule.final_fraction,
                "min_window": self.rule.min_window, "min_steps": self.rule.min_steps,
                "judged": self.start_loss is not None, "start_loss": self.start_loss,
                "final_window_loss": self.final_loss, "ratio": self.ratio, "diverged": self.diverged}
