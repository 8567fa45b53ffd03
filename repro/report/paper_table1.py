"""The paper's own numbers, transcribed from its tables, shown beside ours in the book.

These are the paper's results (roberta-base, 5 seeds), never ours: keys say which table.
"""
from __future__ import annotations

import pandas as pd

TABLE1_TASKS = ("conll03", "qnli", "sst2", "trec6")
# Table 1: test score mean and std over 5 seeds at a BitFit-sized subset (full fine-tuning: all).
TABLE1 = {
    "full": ((0.9217, 0.0009), (0.9290, 0.0018), (0.9468, 0.0013), (0.9752, 0.0046)),
    "lora": ((0.9139, 0.0018), (0.9165, 0.0021), (0.9406, 0.0031), (0.9708, 0.0041)),
    "random": ((0.9087, 0.0012), (0.9048, 0.0029), (0.9342, 0.0028), (0.9720, 0.0032)),
    "bitfit": ((0.9080, 0.0014), (0.9039, 0.0018), (0.9383, 0.0026), (0.9592, 0.0059)),
    "largest_pretrain_sqgrad": ((0.9073, 0.0016), (0.9037, 0.0028), (0.9378, 0.0052), (0.9552, 0.0061)),
    "largest_downstream_sqgrad": ((0.9073, 0.0020), (0.9075, 0.0010), (0.9399, 0.0031), (0.9580, 0.0049)),
    "combined": ((0.9082, 0.0022), (0.9100, 0.0020), (0.9431, 0.0033), (0.9644, 0.0030)),
    "diff_pruning": ((0.9108, 0.0025), (0.9059, 0.0026), (0.9390, 0.0044), (0.9696, 0.0017)),
    "diff_pruning_no_retrain": ((0.9002, 0.0011), (0.9102, 0.0016), (0.9376, 0.0059), (0.9556, 0.0022)),
}


def table1(task: str, variants: list[str] | None = None) -> pd.DataFrame:
    """The paper's Table 1 column for `task`: variant, mean, std (roberta-base, 5 seeds)."""
    if task not in TABLE1_TASKS:
        raise ValueError(f"Table 1 has no task {task!r}; it has {TABLE1_TASKS}")
    column = TABLE1_TASKS.index(task)
    names = variants if variants is not None else list(TABLE1)
    return pd.DataFrame([{"variant": n, "paper mean": TABLE1[n][column][0], "paper std": TABLE1[n][column][1]}
                         for n in names if n in TABLE1])
