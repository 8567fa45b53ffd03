"""Global top-k on random float32 scores shaped like roberta-base's parameters, in a fresh process.

    python -m benchmarks.topk_probe --scale 1 --fractions 1e-3 1e-1 --repeats 3 --threads 2

prints one JSON line: the number of scores and, per fraction, k, the seconds of each timed call
and the peak extra memory. Peak extra memory is the largest rise, over the calls, of the
process's resident-set high-water mark (VmHWM in /proc/self/status) above its resident set just
before the call. Before each call, memory freed by earlier calls is handed back to the system
(glibc's malloc_trim), so a call cannot hide its peak in memory kept from the previous one, and
the mark is reset through /proc/self/clear_refs (the scores are generated in place, so it equals
the resident set anyway).
"""
from __future__ import annotations

import argparse
import ctypes
import json
from dataclasses import dataclass

import torch

from benchmarks.timing import clock, round_robin
from repro.selection.topk import global_topk_mask


@dataclass(frozen=True)
class EncoderShape:
    """A BERT-style encoder's sizes (roberta-base by default)."""

    vocab: int = 50265
    positions: int = 514
    token_types: int = 1
    hidden: int = 768
    intermediate: int = 3072
    layers: int = 12

    def scaled(self, factor: int) -> "EncoderShape":
        """Every width divided by `factor` (about factor^2 fewer scores)."""
        return EncoderShape(self.vocab // factor, self.positions, self.token_types, self.hidden // factor,
                            self.intermediate // factor, self.layers)


def parameter_shapes(shape: EncoderShape) -> dict[str, tuple[int, ...]]:
    """roberta-base's encoder parameter names and shapes (no pooler), for `shape`'s sizes."""
    h, i = shape.hidden, shape.intermediate
    shapes = {"embeddings.word_embeddings.weight": (shape.vocab, h),
              "embeddings.position_embeddings.weight": (shape.positions, h),
              "embeddings.token_type_embeddings.weight": (shape.token_types, h),
              "embeddings.LayerNorm.weight": (h,), "embeddings.LayerNorm.bias": (h,)}
    for layer in range(shape.layers):
        prefix = f"encoder.layer.{layer}."
        for name, (out, inp) in {"attention.self.query": (h, h), "attention.self.key": (h, h),
                                 "attention.self.value": (h, h), "attention.output.dense": (h, h),
                                 "intermediate.dense": (i, h), "output.dense": (h, i)}.items():
            shapes[prefix + name + ".weight"] = (out, inp)
            shapes[prefix + name + ".bias"] = (out,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[prefix + norm + ".weight"] = (h,)
            shapes[prefix + norm + ".bias"] = (h,)
    return shapes


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _reset_high_water_mark() -> bool:
    """Trim glibc's free memory and reset VmHWM; False where either is unavailable."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def measure(scores: dict[str, torch.Tensor], k: int, warmup: int, repeats: int) -> dict:
    """Seconds of each timed call and the largest peak extra memory (bytes) over all calls,
    warm-up included."""
    peak, reset = 0, False

    def call(_) -> float:
        nonlocal peak, reset
        reset = _reset_high_water_mark()
        before = _status_kib("VmRSS")
        masks = []
        seconds = clock(lambda: masks.append(global_topk_mask(scores, k)), lambda: None)
        peak = max(peak, (_status_kib("VmHWM") - before) * 1024)
        assert sum(int(m.sum()) for m in masks[0].values()) == k
        return seconds

    seconds = round_robin({"topk": call}, warmup=warmup, repeats=repeats, progress=False)["topk"]
    return {"k": k, "seconds": seconds, "peak_extra_bytes": peak, "high_water_mark_reset": reset}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="divide roberta-base's widths by this")
    parser.add_argument("--fractions", type=float, nargs="+", default=[1e-3, 1e-1])
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    scores = {name: torch.empty(shape).uniform_(generator=generator)  # in place: no temporary copies
              for name, shape in parameter_shapes(EncoderShape().scaled(args.scale)).items()}
    total = sum(t.numel() for t in scores.values())
    results = [{"fraction": f, **measure(scores, max(1, round(f * total)), args.warmup, args.repeats)}
               for f in args.fractions]
    print(json.dumps({"total": total, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
