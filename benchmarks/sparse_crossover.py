"""Where selected-entry weight gradients (repro.training.sparse_grad) pay off, and what a masked step costs.

Two tables, each from medians of interleaved repetitions (the CPU may be shared):
- crossover: per minilm-l6 weight shape and token count, the gather of k selected products
  against the dense product g^T x, by density k / numel (basis of SPARSE_LINEAR_MAX_DENSITY);
- step: on minilm-l6 with batches of 16, a masked step (forward, backward, MaskedAdamW
  step) with and without the path, against forward+backward of the full model (every
  parameter trainable, loss.backward only), and the peak of tensor memory allocated during
  one step (CPU: torch profiler's allocator trace; CUDA: max_memory_allocated).

    .venv/bin/python benchmarks/sparse_crossover.py [--repeats 15] [--threads 1] 2>/dev/null
    .venv/bin/python benchmarks/sparse_crossover.py --device cuda --max-density 0.01  # force the path

(stderr only carries the profiler's start/stop lines.)

`measure_steps(...)` returns the step table as dicts, for other benchmarks to add rows.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from benchmarks.report import markdown_table
from benchmarks.timing import median_seconds, synchronizer, thread_or_wall_clock
from repro.data import collate, encode, load_task
from repro.training.masked_adamw import MaskedAdamW
from repro.models import DecoderSpec, build_task_model, encoder_parameters, load_tokenizer
from repro.selection.selectors import bitfit_k, select_bitfit, select_random, subset_k
from repro.training.sparse_grad import SPARSE_LINEAR_MAX_DENSITY, selected_products, selected_weight_grads
from repro.training.trainer import task_loss, trained_entries

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
SUBSETS = (1e-4, 1e-3, 1e-2, 1e-1, "bitfit")
SHAPES = ((384, 384), (1536, 384), (384, 1536))  # (out, in) of minilm-l6's linear layers
DENSITIES = (1e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2)


def medians(functions: dict, repeats: int, device: str = "cpu") -> dict:
    """Median seconds of each function(r) (r: the repetition), round robin after one warm-up call,
    on `benchmarks.timing.thread_or_wall_clock` (see --threads)."""
    return median_seconds(functions, synchronizer(device), warmup=1, repeats=repeats, now=thread_or_wall_clock(device))


def peak_bytes(fn, device: str = "cpu") -> int:
    """Peak tensor bytes allocated while `fn` runs, above what was allocated before."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "trace.json")
        prof.export_chrome_trace(path)
        events = json.loads(Path(path).read_text())["traceEvents"]
    return max([e["args"]["Total Allocated"] for e in events if e.get("name") == "[memory]"] + [0])


def crossover_table(repeats: int = 15, tokens=(256, 768), device: str = "cpu") -> list[dict]:
    """Gather of the selected products vs the dense g^T x, per shape, token count and density."""
    rows = []
    for (out, inp), t in itertools.product(SHAPES, tokens):
        g, x = torch.randn(t, out, device=device), torch.randn(t, inp, device=device)
        fns = {"dense": lambda _: g.T.mm(x)}
        for d in DENSITIES:
            index = torch.randperm(out * inp, device=device)[: max(1, round(d * out * inp))]
            rows_, cols_ = index // inp, index % inp
            fns[d] = lambda _, r=rows_, c=cols_: selected_products(g, x, r, c)
        med = medians(fns, repeats, device)
        rows.append({"shape": f"{out}x{inp}", "tokens": t, "dense_ms": 1e3 * med["dense"],
                     **{f"{d:g}": med[d] / med["dense"] for d in DENSITIES}})
    return rows


def sst2_batches(n: int, batch_size: int = 16, seed: int = 0, model: str = "minilm-l6",
                 data_dir: Path = DATA_DIR) -> list[dict]:
    """`n` random batches of SST-2 dev sentences (full sentences, about 25 tokens), or synthetic tokens
    (25-64 of them) where `data_dir` has no sst2 folder."""
    generator = torch.Generator().manual_seed(seed)
    if (Path(data_dir) / "sst2").is_dir():
        data = load_task("sst2", str(data_dir))
        encoded = encode(data.test, data.spec, load_tokenizer(model), 128)
        order = torch.randperm(len(encoded), generator=generator).tolist()
        return [collate([encoded[i] for i in order[b * batch_size:(b + 1) * batch_size]], 0) for b in range(n)]
    batches = []
    for _ in range(n):
        ids = torch.randint(1000, 30000, (batch_size, int(torch.randint(25, 65, (1,), generator=generator))),
                            generator=generator)
        batches.append({"input_ids": ids, "attention_mask": torch.ones_like(ids),
                        "labels": torch.randint(0, 2, (batch_size,), generator=generator)})
    return batches


class MaskedStep:
    """One training step of the masked trainer on its own model copy (path on or off; `max_density`
    as in repro.training.sparse_grad.selected_weight_grads)."""

    def __init__(self, model, mask, sparse: bool, max_density: float | None = None):
        self.model = model.train()
        entries = trained_entries(model, mask)
        self.optimizer = MaskedAdamW(entries, max_grad_norm=5.0)
        self.context = selected_weight_grads(model, entries if sparse else [], max_density)
        self.patched = self.context.__enter__()

    def __call__(self, batch):
        task_loss(self.model, batch).backward()
        self.optimizer.step(1e-6)
        self.optimizer.zero_grad()


class FullForwardBackward:
    """Forward and loss.backward with every parameter trainable (no optimizer)."""

    def __init__(self, model):
        self.model = model.train()

    def __call__(self, batch):
        task_loss(self.model, batch).backward()
        self.model.zero_grad(set_to_none=True)


def _mask(model, subset, seed: int = 0):
    params = encoder_parameters(model)
    if subset == "bitfit":
        return select_bitfit(params, bitfit_k(params), seed)
    return select_random(params, subset_k(params, subset), seed)


def measure_steps(model_name: str = "minilm-l6", subsets=SUBSETS, repeats: int = 15, n_batches: int = 8,
                  device: str = "cpu", data_dir: Path = DATA_DIR, max_density: float | None = None) -> list[dict]:
    """Per subset: median ms of the full forward+backward and of masked steps (plain / selected-entry
    path), their ratios, tensors on the path, and peak step memory (MB) of both masked paths."""
    batches = sst2_batches(n_batches, model=model_name, data_dir=data_dir)
    batches = [{k: v.to(device) for k, v in b.items()} for b in batches]
    base = build_task_model(model_name, DecoderSpec("sequence", 2), seed=0).to(device)
    full = FullForwardBackward(base)
    rows = []
    for subset in subsets:
        mask = _mask(base, subset)
        plain = MaskedStep(build_task_model(model_name, DecoderSpec("sequence", 2), seed=0).to(device), mask, False)
        sparse = MaskedStep(build_task_model(model_name, DecoderSpec("sequence", 2), seed=0).to(device), mask, True,
                            max_density)
        runners = {"full": full, "plain": plain, "sparse": sparse}
        med = medians({n: (lambda r, run=run: run(batches[r % len(batches)])) for n, run in runners.items()},
                      repeats, device)
        memory = {n: peak_bytes(lambda r=r: r(batches[0]), device) / 2**20 for n, r in runners.items()}
        rows.append({
            "subset": str(subset), "k": sum(int(m.sum()) for m in mask.values()), "on_path": len(sparse.patched),
            "full_fb_ms": 1e3 * med["full"], "plain_ms": 1e3 * med["plain"], "sparse_ms": 1e3 * med["sparse"],
            "plain/full": med["plain"] / med["full"], "sparse/full": med["sparse"] / med["full"],
            "full_MB": memory["full"], "plain_MB": memory["plain"], "sparse_MB": memory["sparse"],
        })
    return rows


def _print(rows: list[dict]) -> None:
    keys = list(rows[0])
    cells = [[f"{row[k]:.3g}" if isinstance(row[k], float) else str(row[k]) for k in keys] for row in rows]
    print("\n".join(markdown_table(keys, cells, "".join("l" if isinstance(rows[0][k], str) else "r" for k in keys))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch threads; 1 times CPU time of this thread (steady on a shared machine)")
    parser.add_argument("--skip-crossover", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--max-density", type=float, default=None,
                        help="force this linear density threshold (default: the device's rule)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"{thread_or_wall_clock(args.device).__name__}; medians of {args.repeats} interleaved repetitions; "
          f"SPARSE_LINEAR_MAX_DENSITY={SPARSE_LINEAR_MAX_DENSITY}")
    if not args.skip_crossover:
        print("\ncrossover: gather time / dense g^T x time, by density (columns)")
        _print(crossover_table(args.repeats, device=args.device))
    print("\nstep: minilm-l6, batches of 16 SST-2 dev sentences")
    _print(measure_steps(repeats=args.repeats, device=args.device, data_dir=args.data_dir,
                         max_density=args.max_density))


if __name__ == "__main__":
    main()
