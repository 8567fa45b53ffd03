"""Scale profiles: how big one study is (smoke, cpu, reference, paper), never what it varies.

A profile holds the `Study` settings that size a run: model, epochs, data sizes, batch size,
Fisher sample counts, default seeds, diff pruning's settings and torch threads per run (1:
runs are spread over cores by running several at once, `repro.runs.executors`), and the MLM
probe's recipe.
What a section varies (variants, subset sizes, learning-rate grids, tasks) is its grid file,
`grids/<profile>/<section>.yaml` (`repro.runs.grid_files`).
"""
from __future__ import annotations

PROFILES: dict[str, dict] = {
    # seconds: a tiny random model and a few dozen examples, for tests
    "smoke": dict(model="tiny-random", seeds=(0, 1), epochs=1, train_size=24, val_size=8, max_length=32,
                  batch_size=16, fisher_samples=8, pretrain_fisher_samples=4, pruning_l1=0.01,
                  pruning_learning_rate=1e-3, threads=1),
    # minutes on 2 CPU cores
    "cpu": dict(model="minilm-l6", seeds=(0,), epochs=1, train_size=2000, val_size=300, max_length=64,
                batch_size=16,
                fisher_samples=256, pretrain_fisher_samples=128,  # CPU: ~6 s and ~3 min (MLM decoder included)
                pruning_l1=1e-3, pruning_learning_rate=1e-4,  # pilot (book: running): best validation of 1e-4, 1e-3, 1e-2
                threads=1),
    # the committed reference reproduction (grids/reference/, computed once, read by the book's pages):
    # the cpu scale with 5 seeds and a 500-example validation split; each grid study sets its task's
    # training size and epochs from the schedule pilot (pilots/schedule.py, validation only)
    "reference": dict(model="minilm-l6", seeds=(0, 1, 2, 3, 4), epochs=1, train_size=2000, val_size=500,
                      max_length=64, batch_size=16, fisher_samples=256, pretrain_fisher_samples=128,
                      pruning_l1=1e-3, pruning_learning_rate=1e-4, threads=1),
    # the paper (Table 2): a GPU cluster
    "paper": dict(model="roberta-base", seeds=(0, 1, 2, 3, 4), epochs=4, train_size=None, val_size=1000,
                  max_length=256, batch_size=16,
                  fisher_samples=1024, pretrain_fisher_samples=30508,  # the paper: 30,508 WikiText samples
                  pruning_l1=0.01, pruning_learning_rate=2e-5,  # not stated by the paper: our choice
                  threads=1),
}
# Per-task settings of a profile, over its own: the paper's schedule (Table 2: QNLI 2 epochs, every other task
# 4) and the reference schedule chosen by the schedule pilot (pilots/schedule.py, validation only; book: running):
# per task the cheapest schedule (examples seen = train_size x epochs) within a point of the best validation score
# among those the grid's budget allows, a limit fixed before the pilot's larger cells finished: 4,000 examples seen
# (QNLI, twice as long per example: 3,000). max_length as in the pilot: 128 for the token tasks, 64 for the others.
TASK_SETTINGS: dict[str, dict[str, dict]] = {
    "paper": {"qnli": dict(epochs=2)},
    "reference": {"sst2": dict(train_size=4000, epochs=1), "qnli": dict(train_size=1000, epochs=2),
                  "conll03": dict(train_size=4000, epochs=1, max_length=128), "trec6": dict(train_size=4000, epochs=1),
                  # German CoNLL (a secondary task, not piloted): English's 4,000 examples seen; it has 2,367 to train
                  "conll03_de": dict(train_size=2000, epochs=2, max_length=128)},
}

# The MLM probe's recipe (`repro.selection.mlm_decoder.MLMConfig` fields) where it differs from Table 5
PROBE_RECIPES: dict[str, dict] = {"smoke": dict(epochs=1, max_length=32), "cpu": {}, "reference": {}, "paper": {}}

# What one Slurm job (one run) asks for (`repro.runs.executors.ExecutorConfig`); GPUs 0 on a CPU cluster.
# Peak memory of one run on a CPU: smoke 0.5 GB, cpu 1.5 GB (random on SST-2)
SLURM_RESOURCES: dict[str, dict] = {
    "smoke": dict(cpus_per_job=1, mem_gb=2, gpus_per_job=0),
    "cpu": dict(cpus_per_job=2, mem_gb=4, gpus_per_job=0),
    "reference": dict(cpus_per_job=1, mem_gb=4, gpus_per_job=0),
    "paper": dict(cpus_per_job=4, mem_gb=16, gpus_per_job=1),  # roberta-base on one GPU
}


def check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known profiles: {sorted(PROFILES)}")


def profile_settings(profile: str, task: str) -> dict:
    """The profile's `Study` settings for `task`: its own, then its `TASK_SETTINGS` for the task."""
    check_profile(profile)
    return {**PROFILES[profile], **TASK_SETTINGS.get(profile, {}).get(task, {})}
