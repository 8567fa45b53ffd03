"""Pilot behind the divergence rule (`repro.training.divergence`): the training loss of every step
of real minilm-l6 runs at learning rates from ordinary to absurd.

SST-2 and TREC-6, 1,000 training examples (seed 0's split), one epoch of batch 16, max length 64,
one torch thread; full fine-tuning, random 1e-3 and BitFit, each at 1e-5 ... 1e3 (decades), all
from the same initial decoder. Writes one JSON record per run (the losses of every step) and
prints each run's ratio under the rule. Run: python pilots/divergence.py DATA_DIR OUT.json
(about 30 minutes on 2 cores).
"""
from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

import torch

from repro.data import encode, load_task, split_indices
from repro.models import DecoderSpec, build_task_model, encoder_parameters, load_tokenizer
from repro.selection.selectors import bitfit_k, count_parameters, select_bitfit, select_full, select_random, subset_k
from repro.training.decoder_first import DecoderConfig, decoder_first
from repro.training.divergence import DivergenceRule
from repro.training.loop import Schedule
from repro.training.trainer import train_masked

RATES = tuple(10.0**e for e in range(-5, 4))
SELECT = {
    "full": lambda p: select_full(p, count_parameters(p), 0),
    "random": lambda p: select_random(p, subset_k(p, 1e-3), 0),
    "bitfit": lambda p: select_bitfit(p, bitfit_k(p), 0),
}


def main(data_dir: str, out: str) -> None:
    torch.set_num_threads(1)
    tokenizer, records, cache = load_tokenizer("minilm-l6"), [], Path(tempfile.mkdtemp())
    for task in ("sst2", "trec6"):
        data = load_task(task, data_dir)
        train_index, _ = split_indices(len(data.train), 1000, 300, 0, task)
        encoded = encode([data.train[i] for i in train_index], data.spec, tokenizer, 64)
        for variant, select in SELECT.items():
            for rate in RATES:
                model = build_task_model("minilm-l6", DecoderSpec(data.spec.kind, len(data.spec.label_names)), 0)
                decoder_first(model, encoded, DecoderConfig(), seed=0, pad_token_id=tokenizer.pad_token_id,
                              cache_file=cache / f"{task}.safetensors", progress=False)
                result = train_masked(model, select(encoder_parameters(model)), encoded, Schedule(1, 16, rate), seed=0,
                                      pad_token_id=tokenizer.pad_token_id, progress=False)
                losses = [x if math.isfinite(x) else None for x in result.fit.step_losses]
                records.append(dict(task=task, variant=variant, lr=rate, steps=result.fit.steps, losses=losses))
                verdict = DivergenceRule().judge(result.fit.step_losses)
                print(task, variant, f"{rate:g}", f"ratio {verdict.ratio:.3g}", "diverged" * verdict.diverged, flush=True)
                Path(out).write_text(json.dumps(records))


if __name__ == "__main__":
    main(*sys.argv[1:3])
