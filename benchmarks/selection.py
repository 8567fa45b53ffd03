"""The selectors' costs: Fisher scoring (batched vs the per-sample loop) and global top-k."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.timing import synchronizer, timed_calls
from repro.data import EncodedExample
from repro.selection.fisher import empirical_fisher, empirical_fisher_loop
from repro.models import TaskModel

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class FisherComparison:
    samples: int
    batch_size: int
    batched: list[float]  # seconds of each timed repetition
    loop: list[float]
    max_relative_difference: float  # float64 run, elementwise (see `relative_difference`)
    float32_difference: float  # float32 run, max over tensors of max |batched - loop| / max |loop|


def relative_difference(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> float:
    """max |got - want| / max(|want|, 1e-12 M) over every entry, M the largest score of all: entries
    under 1e-12 M (the attention key biases, whose exact gradient is 0) hold only rounding noise."""
    floor = 1e-12 * max(float(w.abs().max()) for w in want.values())
    return max(float(((got[n].double() - w.double()).abs() / w.double().abs().clamp_min(floor)).max())
               for n, w in want.items())


def normwise_difference(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> float:
    """max over tensors (all-noise ones skipped, as above) of max |got - want| / max |want|."""
    largest = max(float(w.abs().max()) for w in want.values())
    return max(float((got[n] - w).abs().max()) / float(w.abs().max())
               for n, w in want.items() if float(w.abs().max()) > 1e-12 * largest)


def compare_fisher(model: TaskModel, encoded: list[EncodedExample], *, pad_token_id: int, n_samples: int,
                   batch_size: int, warmup: int, repeats: int, check_samples: int, device: str,
                   progress: bool) -> FisherComparison:
    """Time `empirical_fisher` and `empirical_fisher_loop` on the same samples (round robin), and
    compare their values in float32 and, on the first `check_samples`, in float64."""
    sync = synchronizer(device)
    common = dict(pad_token_id=pad_token_id, n_samples=n_samples, device=device)
    results = {}
    functions = {"batched": lambda: empirical_fisher(model, encoded, batch_size=batch_size, progress=False, **common),
                 "loop": lambda: empirical_fisher_loop(model, encoded, **common)}
    timed = timed_calls({key: (lambda _, key=key, f=f: results.__setitem__(key, f())) for key, f in functions.items()},
                        sync, warmup=warmup, repeats=repeats, progress=progress)
    float32 = normwise_difference(results["batched"].scores, results["loop"].scores)
    exact = copy.deepcopy(model).double()
    check = dict(pad_token_id=pad_token_id, n_samples=min(check_samples, n_samples), device=device)
    batched_scores = empirical_fisher(exact, encoded, batch_size=batch_size, progress=False, **check).scores
    difference = relative_difference(batched_scores, empirical_fisher_loop(exact, encoded, **check).scores)
    return FisherComparison(n_samples, batch_size, timed["batched"], timed["loop"], difference, float32)


def run_topk_probe(scale: int, fractions: tuple[float, ...], repeats: int, threads: int) -> dict:
    """benchmarks.topk_probe in a fresh process (its own memory high-water mark); its JSON result."""
    command = [sys.executable, "-m", "benchmarks.topk_probe", "--scale", str(scale), "--repeats", str(repeats),
               "--threads", str(threads), "--fractions", *map(str, fractions)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])
