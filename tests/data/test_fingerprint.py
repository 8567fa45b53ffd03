"""A task's fingerprint follows its examples: edits in place, emptied files and reader changes
show; another folder with the same data does not."""
from __future__ import annotations

import os
import shutil

from repro.data import load_task
from repro.data.fingerprint import examples_fingerprint
from repro.data.schema import SequenceExample
from repro.data.token_cache import cache_key


def test_same_data_in_another_folder_has_the_same_fingerprint(study_data, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(study_data, copy)
    assert load_task("sst2", study_data).fingerprint == load_task("sst2", copy).fingerprint


def test_an_edit_in_place_with_the_same_line_count_changes_fingerprint_and_token_cache_key(study_data):
    before = load_task("sst2", study_data)
    train = study_data / "sst2" / "train.tsv"
    lines = train.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace("\t0", "\t1") if "\t0" in lines[1] else lines[1].replace("\t1", "\t0")
    stat = train.stat()
    train.write_text("".join(lines))
    os.utime(train, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a different time, even on coarse clocks
    after = load_task("sst2", study_data)
    assert len(after.train) == len(before.train)
    assert after.fingerprint != before.fingerprint
    assert cache_key(after, "tiny-random", 32) != cache_key(before, "tiny-random", 32)


def test_order_and_every_field_count():
    a, b = SequenceExample("good film", 1), SequenceExample("bad film", 0)
    assert examples_fingerprint([a, b]) != examples_fingerprint([b, a])
    assert examples_fingerprint([a]) != examples_fingerprint([SequenceExample("good film", 0)])
    assert examples_fingerprint([a]) != examples_fingerprint([SequenceExample("good film", 1, "pair")])
    assert examples_fingerprint([a]) == examples_fingerprint([SequenceExample("good film", 1)])
