"""Data for the reproduction: task registry, raw-format readers, hub converters, loading, encoding."""
from __future__ import annotations

from .encoding import IGNORE_INDEX, EncodedExample, collate, encode, iterate_batches, word_predictions
from .hub import (
    from_hub_conll,
    from_hub_qnli,
    from_hub_sst2,
    from_hub_trec,
    from_hub_wikitext,
    load_task_from_hub,
    load_wikitext_from_hub,
)
from .readers import iob1_to_iob2, read_conll, read_qnli_tsv, read_sst2_tsv, read_trec, read_wikitext
from .schema import TASKS, RunSplits, SequenceExample, TaskData, TaskSpec, TokenExample, get_task_spec
from .tasks import (DATA_DIR_ENV, load_task, load_wikitext, resolve_data_dir, split_for_run, split_indices,
                    split_qnli_dev, wikitext_fingerprint)

__all__ = [
    "DATA_DIR_ENV", "IGNORE_INDEX", "TASKS",
    "EncodedExample", "RunSplits", "SequenceExample", "TaskData", "TaskSpec", "TokenExample",
    "collate", "encode", "from_hub_conll", "from_hub_qnli", "from_hub_sst2", "from_hub_trec",
    "from_hub_wikitext", "get_task_spec", "iob1_to_iob2", "iterate_batches", "load_task",
    "load_task_from_hub", "load_wikitext", "load_wikitext_from_hub", "read_conll", "read_qnli_tsv",
    "read_sst2_tsv", "read_trec", "read_wikitext", "resolve_data_dir", "split_for_run",
    "split_indices", "split_qnli_dev", "wikitext_fingerprint", "word_predictions",
]
