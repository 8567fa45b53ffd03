"""Grid files: the format (defaults, rates files, extends, section 4 keys), the errors that name
the line at fault, the section API, and every shipped file."""
from __future__ import annotations

from pathlib import Path

import pytest

from repro.generality.mlm_probe import section_probe
from repro.runs.grid_files import GRIDS_DIR, SECTIONS, GridError, load_grid, section_grid, section_study
from repro.runs.profiles import PROFILES

RATES = f"rates: {GRIDS_DIR}/smoke/_rates.yaml\n"
HEAD = "profile: smoke\n" + RATES + "defaults: {selectors: [random], subset_sizes: [1e-3]}\n"  # 3 lines


def write(tmp_path: Path, text: str, name: str = "grid.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_study_takes_the_profile_then_rates_then_defaults_then_its_own_settings(tmp_path):
    grid = load_grid(write(tmp_path, HEAD + "studies:\n  - task: sst2\n  - task: trec6\n    seeds: [3]\n"
                                            "    learning_rates: {random: [0.5]}\n"))
    sst2, trec6 = grid.studies()
    assert (sst2.model, sst2.seeds, sst2.selectors, sst2.subset_sizes) == ("tiny-random", (0, 1), ("random",), (1e-3,))
    assert sst2.learning_rates == {"random": (1e-2, 1e-1)}  # the rates file's, only for the study's variants
    assert trec6.seeds == (3,) and trec6.learning_rates == {"random": (0.5,)}
    assert grid.tasks == ("sst2", "trec6") and len(grid.configs("local")) == 2 * 2 + 1


def test_overrides_replace_the_grid_and_none_keeps_it(tmp_path):
    grid = load_grid(write(tmp_path, HEAD + "studies:\n  - task: sst2\n"))
    study = grid.study("sst2", seeds=None, selectors="random,bitfit", train_size="16", rate_grid="middle")
    assert study.seeds == (0, 1) and study.selectors == ("random", "bitfit") and study.train_size == 16
    assert study.learning_rates == {"random": (1e-2,), "bitfit": (1e-2,)}  # the lower middle of two
    assert grid.study("qnli").task == "qnli"  # a task without an entry: the defaults


def test_extends_replaces_whole_keys_and_resolves_paths_from_each_file(tmp_path):
    write(tmp_path, HEAD + "extend_edges: true\nstudies:\n  - task: sst2\n", "base.yaml")
    (tmp_path / "sub").mkdir()
    grid = load_grid(write(tmp_path / "sub", "extends: ../base.yaml\nstudies:\n  - task: trec6\n"))
    assert grid.profile == "smoke" and grid.extend_edges and grid.tasks == ("trec6",)
    assert grid.studies()[0].learning_rates == {"random": (1e-2, 1e-1)}


def test_secondary_tasks_add_base_runs_once(tmp_path):
    text = ("profile: smoke\n" + RATES + "defaults: {selectors: [full, bitfit]}\nstudies:\n  - task: sst2\n"
            "secondary_tasks: [trec6]\nprobe: {train_sequences: 16, test_sequences: null}\n")
    grid = load_grid(write(tmp_path, text))
    configs = grid.configs("local")
    assert [(c.task, c.selector) for c in configs] == [("sst2", "full")] * 4 + [("sst2", "bitfit")] * 4 + \
        [("trec6", "full")] * 4  # sst2's base runs are its own full runs
    assert grid.probe == {"train_sequences": 16, "test_sequences": None}


@pytest.mark.parametrize("text,match", [
    (HEAD + "studies:\n  - task: sst2\n  - task: mnli\n", r"line 6: unknown task 'mnli'"),
    (HEAD + "studies:\n  - task: sst2\n    subset_sizes: [3.0]\n", r"line 5: subset size 3.0"),
    (HEAD + "studies:\n  - task: sst2\n    batch: 3\n", r"line 5: unknown study settings \['batch'\]"),
    (HEAD + "studies:\n  - selectors: random\n", r"line 5: each study needs a 'task'"),
    (HEAD + "studies: []\n", r"line 4: 'studies' must be a non-empty list"),
    (HEAD + "studies:\n  - task: sst2\nsecondary_tasks: [mnli]\n", r"line 6: unknown task 'mnli'"),
    (HEAD + "studies:\n  - task: sst2\nprobe: {train_sequences: 0}\n", r"line 6: 'probe' takes"),
    (HEAD + "extend_edges: sometimes\nstudies:\n  - task: sst2\n", r"line 4: 'extend_edges' must be a bool"),
    ("profile: smoke\ndefaults: {batch: 3}\nstudies:\n  - task: sst2\n", r"line 2: unknown study settings"),
    ("profile: smoke\nstudies:\n  - task: sst2\n", r"line 3: empty grid: selectors=\(\)"),
    ("profile: smoke\nrates: nowhere.yaml\nstudies:\n  - task: sst2\n", r"line 2: rates file .*nowhere.yaml does not"),
    ("profile: smoke\nextends: nowhere.yaml\nstudies:\n  - task: sst2\n", r"grid file .*nowhere.yaml does not exist"),
    ("extends: grid.yaml\n", r"line 1: a grid file cannot extend itself"),
    ("profile: smoke\nstudies: [\n", r"line \d+: not valid YAML"),
    ("profile: smoke\nstudy:\n  - task: sst2\n", r"line 2: unknown key 'study'"),
    ("profile: huge\nstudies:\n  - task: sst2\n", r"line 1: unknown profile 'huge'"),
])
def test_malformed_grid_names_the_line(tmp_path, text, match):
    with pytest.raises(GridError, match=match):
        load_grid(write(tmp_path, text))


def test_a_rates_file_needs_learning_rates(tmp_path):
    write(tmp_path, "random: [0.1]\n", "_rates.yaml")
    with pytest.raises(GridError, match=r"line 2: rates file .* needs a mapping 'learning_rates'"):
        load_grid(write(tmp_path, "profile: smoke\nrates: _rates.yaml\nstudies:\n  - task: sst2\n"))


@pytest.mark.parametrize("call,match", [
    (lambda: section_grid("figure_9", "cpu"), r"unknown section 'figure_9'; known sections: selection_strategies"),
    (lambda: section_study("subset_size", "huge", "sst2"), r"unknown profile 'huge'; known profiles"),
    (lambda: section_study("subset_size", "cpu", "mnli"), r"unknown task 'mnli'; known tasks"),
    (lambda: section_study("subset_size", "cpu", "sst2", epoch=2), r"unknown study settings \['epoch'\]; allowed"),
    (lambda: section_probe("task_similarity", "cpu"), r"section 'task_similarity' runs no MLM probe"),
])
def test_section_api_refuses_unknown_names(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_section_file_must_name_its_folders_profile(tmp_path):
    (tmp_path / "cpu").mkdir()
    write(tmp_path / "cpu", HEAD + "studies:\n  - task: sst2\n", "subset_size.yaml")
    with pytest.raises(GridError, match="names profile 'smoke', but lies in the folder of profile 'cpu'"):
        section_grid("subset_size", "cpu", grids_dir=tmp_path)


def test_section_probe_takes_the_grids_sizes_and_the_profiles_recipe():
    probe = section_probe("generality", "smoke", test_sequences=2)
    assert (probe.train_sequences, probe.test_sequences, probe.recipe.epochs, probe.recipe.max_length) == (8, 2, 1, 32)
    assert section_probe("regularization", "paper").train_sequences is None  # all of WikiText-2


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("section", SECTIONS)
def test_every_section_has_a_valid_grid_on_every_profile(section, profile):
    configs = section_grid(section, profile).configs("local")
    assert configs and {c.model for c in configs} <= {PROFILES[profile]["model"], "xlm-roberta-base"}


def test_no_grid_file_outside_the_sections():
    files = {(p.parent.name, p.stem) for p in GRIDS_DIR.glob("*/*.yaml") if not p.name.startswith("_")}
    assert files == {(profile, section) for profile in PROFILES for section in SECTIONS}
