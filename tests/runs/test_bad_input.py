"""Every bad input is refused up front, before any run starts, with an error that names the
value, the setting (or file and line) and what is allowed. One table per entry point: a
section's study with notebook overrides (`section_study`), a sweep (`run_sweep`, whose
`preflight` reads models and data), and the command line (`python -m repro sweep <grid.yaml>`)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from repro.cli import main
from repro.runs.config import RunConfig
from repro.runs.grid_files import GRIDS_DIR, section_study
from repro.runs.run import Workspace
from repro.runs.sweep import preflight, run_sweep

# overrides of section_study("subset_size", "smoke", "sst2", ...), as a notebook passes them
# (papermill: numbers as numbers, "-r" values and lists as strings)
STUDY_OVERRIDES = [
    (dict(seeds=0.5), ValueError, r"seeds 0\.5 must be a whole number"),
    (dict(seeds="0,0.5"), ValueError, r"seeds '0\.5' must be a whole number"),
    (dict(seeds=True), ValueError, r"seeds True must be a whole number"),
    (dict(epochs=1.5), ValueError, r"epochs 1\.5 must be a whole number"),
    (dict(epochs="two"), ValueError, r"epochs 'two' must be a whole number"),
    (dict(train_size=10.5), ValueError, r"train_size 10\.5 must be a whole number of examples or 'all'"),
    (dict(train_size="most"), ValueError, r"train_size 'most' must be a whole number of examples or 'all'"),
    (dict(train_size=0), ValueError, r"train_size 0 must be >= 1 or None \(all\)"),
    (dict(batch_size="sixteen"), ValueError, r"batch_size 'sixteen' must be a whole number"),
    (dict(val_size=2.5), ValueError, r"val_size 2\.5 must be a whole number"),
    (dict(max_length=4), ValueError, r"max_length \(4\) >= 8"),
    (dict(fisher_samples=0), ValueError, r"fisher_samples \(N\) 0 must be >= 1"),
    (dict(threads=0), ValueError, r"threads 0 must be a whole number >= 1"),
    (dict(learning_rates="1e-3,fast"), ValueError, r"learning_rates 'fast' must be a number"),
    (dict(learning_rates={"random": [-1.0]}), ValueError, r"learning rate -1\.0 must be a positive number"),
    (dict(subset_sizes="0.01,2"), ValueError, r"subset size 2\.0 must be a fraction in \(0, 1\]"),
    (dict(subset_sizes="tiny"), ValueError, r"subset size 'tiny' must be a fraction in \(0, 1\] or 'bitfit'"),
    (dict(selectors="random,magic"), ValueError, r"unknown selector 'magic'"),
    (dict(selectors=""), ValueError, r"empty grid: selectors=\(\)"),
    (dict(rate_grid="half"), ValueError, r"rate_grid 'half' must be one of \('full', 'middle'\)"),
    (dict(pruning_l1="strong"), ValueError, r"pruning_l1 'strong' must be a number"),
    (dict(colour="red"), ValueError, r"unknown study settings \['colour'\]; allowed: \["),
]


@pytest.mark.parametrize("overrides, error, message", STUDY_OVERRIDES, ids=lambda v: repr(v)[:40])
def test_bad_notebook_overrides_are_refused(overrides, error, message):
    with pytest.raises(error, match=message):
        section_study("subset_size", "smoke", "sst2", **overrides)


@pytest.mark.parametrize("where, error, message", [
    (dict(section="fig9"), ValueError, r"unknown section 'fig9'; known sections: selection_strategies"),
    (dict(profile="huge"), ValueError, r"unknown profile 'huge'; known profiles: \['cpu', 'paper', 'reference', 'smoke'\]"),
    (dict(task="mnli"), ValueError, r"unknown task 'mnli'; known tasks: conll03"),
])
def test_bad_section_profile_or_task_is_refused(where, error, message):
    with pytest.raises(error, match=message):
        section_study(**{**dict(section="subset_size", profile="smoke", task="sst2"), **where})


def broken_tokenizer_model(root: Path) -> str:
    """A model folder whose tokenizer was saved with a vocabulary of special tokens only."""
    from transformers import BertConfig, BertTokenizerFast

    folder = root / "broken-model"
    folder.mkdir()
    (root / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n")
    BertTokenizerFast(vocab_file=str(root / "vocab.txt")).save_pretrained(folder)
    BertConfig(vocab_size=5, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
               intermediate_size=8).save_pretrained(folder)
    return str(folder)


def relative_folder_under_existing_parent(root: Path) -> dict:
    (root / "models").mkdir()
    return dict(model="models/minilm")  # models/ exists here, so this is a folder, not a hub id


def write(path: Path, content: bytes) -> dict:
    path.write_bytes(content)
    return {}


# what is bad: (data folder, working folder) -> RunConfig changes; error; message
PREFLIGHT = [
    ("train_size larger than the data", lambda data, root: dict(train_size=5000), ValueError,
     r"train_size=5000 \+ val_size=8 needs 5008 examples .* the sst2 training data has only 60; "
     r"lower train_size \(at most 52\)"),
    ("val_size larger than the data", lambda data, root: dict(train_size=None, val_size=60), ValueError,
     r"train_size=None \+ val_size=60 needs 61 examples .* has only 60; lower val_size \(below 60\)"),
    ("an empty training file", lambda data, root: write(data / "sst2/train.tsv", b""), ValueError,
     r"data file /\S+/sst2/train\.tsv is empty \(expected header 'sentence\\tlabel', then examples\)"),
    ("an empty TREC training file", lambda data, root: write(data / "trec/train_5500.label", b"\n") | dict(task="trec6"),
     ValueError, r"data file /\S+/trec/train_5500\.label holds 0 examples \(needs at least 1\): is it empty or cut short"),
    ("a test file with only its header", lambda data, root: write(data / "sst2/dev.tsv", b"sentence\tlabel\n"),
     ValueError, r"data file /\S+/sst2/dev\.tsv holds 0 examples"),
    ("a non-UTF-8 byte", lambda data, root: write(data / "sst2/train.tsv", b"sentence\tlabel\ngood \t1\nbad \xff \t0\n"),
     ValueError, r"/\S+/sst2/train\.tsv:3: not utf-8 text: byte ff \(invalid start byte\)"),
    ("a bad label", lambda data, root: write(data / "sst2/train.tsv", b"sentence\tlabel\ngood \t7\n"), ValueError,
     r"/\S+/sst2/train\.tsv:2: label must be 0 or 1, got '7'"),
    ("a missing ./ model folder", lambda data, root: dict(model="./models/minilm"), ValueError,
     r"model folder './models/minilm' does not exist \(looked for /\S+/models/minilm\); a name starting with"),
    ("a missing model folder under an existing folder", lambda data, root: relative_folder_under_existing_parent(root),
     ValueError, r"model folder 'models/minilm' does not exist"),
    ("a tokenizer that loses the text", lambda data, root: dict(model=broken_tokenizer_model(root)), ValueError,
     r"the tokenizer of model '/\S+/broken-model' loses the text: 100% of \d+ words of \d+ sst2 training texts "
     r"encode to nothing or only to special/unknown tokens"),
]


def base_config(**changes) -> RunConfig:
    fields = dict(task="sst2", selector="random", learning_rate=1e-2, model="tiny-random", subset_size=0.01,
                  epochs=1, train_size=16, val_size=8, max_length=32)
    return RunConfig(**{**fields, **changes})


@pytest.mark.parametrize("entry", ["preflight", "run_sweep"])
@pytest.mark.parametrize("what, make_bad, error, message", PREFLIGHT, ids=[row[0] for row in PREFLIGHT])
def test_a_sweep_refuses_bad_data_and_models_before_any_run(tmp_path, study_data, monkeypatch, entry, what, make_bad,
                                                            error, message):
    monkeypatch.chdir(tmp_path)
    changes = make_bad(study_data, tmp_path)
    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    configs = [base_config(**changes), base_config(**changes, seed=1)]
    with pytest.raises(error, match=message):
        (preflight if entry == "preflight" else run_sweep)(configs, workspace)
    assert not (tmp_path / "results" / "runs").exists()  # nothing ran


SMOKE_GRID = f"profile: smoke\nrates: {GRIDS_DIR}/smoke/_rates.yaml\nstudies:\n  - task: sst2\n    selectors: random\n    subset_sizes: [0.01]\n"


@pytest.mark.parametrize("study_lines, message", [
    ("    seeds: [0, 0.5]\n", r"grid.yaml, line 4: seeds 0\.5 must be a whole number"),
    ("    epochs: two\n", r"grid.yaml, line 4: epochs 'two' must be a whole number"),
    ("    epochs: 1.5\n", r"grid.yaml, line 4: epochs 1\.5 must be a whole number"),
    ("    train_size: 24.5\n", r"grid.yaml, line 4: train_size 24\.5 must be a whole number of examples or 'all'"),
    ("    subset_sizes: [0.01, 3]\n", r"grid.yaml, line 4: subset size 3\.0 must be a fraction in \(0, 1\]"),
    ("    colour: red\n", r"grid.yaml, line 4: unknown study settings \['colour'\]"),
    ("    train_size: 5000\n", r"train_size=5000 \+ val_size=8 needs 5008 examples .* has only 60"),
    ("    model: ./models/minilm\n", r"model folder './models/minilm' does not exist"),
])
def test_the_command_line_refuses_a_bad_grid_file_before_any_run(tmp_path, study_data, monkeypatch, capsys,
                                                                  study_lines, message):
    monkeypatch.chdir(tmp_path)
    grid = tmp_path / "grid.yaml"
    grid.write_text(SMOKE_GRID + study_lines)
    code = main(["sweep", str(grid), "--data-dir", str(study_data), "--results-dir", str(tmp_path / "results")])
    assert code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "results" / "runs").exists()



@pytest.mark.parametrize("name, local", [
    ("roberta-base", False), ("FacebookAI/roberta-base", False),  # hub ids: 'name', 'owner/name'
    ("./roberta-base", True), ("../models/roberta", True), ("/abs/model", True), ("~/model", True),
    ("a/b/c", True), ("models\\mine", True),
    ("models/mine", True),  # 'owner/name' where owner is a folder here
])
def test_a_model_name_is_a_path_or_a_hub_id(tmp_path, monkeypatch, name, local):
    from repro.models import looks_like_path, resolve_model_source

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    assert looks_like_path(name) == local
    if local:
        with pytest.raises(ValueError, match="does not exist"):
            resolve_model_source(name)  # at once: no hub lookup
    else:
        assert resolve_model_source(name) == name


def test_a_run_started_alone_refuses_a_tokenizer_that_loses_the_text(tmp_path, study_data):
    """Tokenising a task checks the tokenizer too (`repro.data.token_cache.encoded_task`)."""
    from repro.runs.run import run_one

    workspace = Workspace.create(tmp_path / "results", study_data, device="cpu", progress=False)
    result = run_one(base_config(model=broken_tokenizer_model(tmp_path)), workspace)
    assert result.status == "failed" and re.match(r"ValueError: the tokenizer of model .* loses the text", result.reason)
