"""Grid files: what each section of the book runs, per profile, read by the notebooks and the CLI.

`grids/<profile>/<section>.yaml` holds one section's grid (`SECTIONS`: the notebooks 01..08);
the profile (`repro.runs.profiles`) only sizes it. Keys of a grid file:

    description: one line for people
    profile: cpu                  # the scale profile (must be the folder's name for a section file)
    extends: subset_size.yaml     # optional: a grid file whose keys this file's keys replace, whole
    rates: _rates.yaml            # optional: the learning-rate grids the studies start from
    defaults:                     # settings of every study: any `Study` setting, and rate_grid
      selectors: [random, bitfit, full]
      subset_sizes: [1e-4, bitfit, 1e-2]
      rate_grid: full             # full | middle (only the middle rate of each grid, not tuned)
    studies:                      # one per task; a study's own settings replace the defaults
      - task: sst2
      - task: conll03
        max_length: 128
    extend_edges: false           # apply the paper's rule: extend a grid whose best rate is at its edge
    secondary_tasks: [trec6]      # section 4: tasks the tuned encoders are then adapted to
    probe: {train_sequences: 128, test_sequences: 128}  # section 4: the MLM probe's sizes (null: all)

Learning-rate grids shared by sections live in `grids/<profile>/_rates.yaml` (one mapping
`learning_rates`: variant or "variant@size" -> grid); a file names it with `rates:` (paths are
relative to the file that names them), and its `learning_rates` replace those grids key by key,
as a notebook's `learning_rates` do (`repro.runs.study.build_study`). A study's settings are, in
order: the profile's, the rates file's grids, `defaults`, the study's own, then overrides.

With `secondary_tasks`, the grid also holds section 4's base runs: full fine-tuning of the
pretrained encoder on every primary and secondary task (`Grid.base_study`). Errors name the
file and the line of the entry at fault.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import yaml

from repro.data import get_task_spec
from repro.runs.config import RunConfig
from repro.runs.profiles import PROFILES, check_profile, profile_settings
from repro.runs.study import RATE_GRIDS, SETTINGS, Study, build_study

SECTIONS = ("selection_strategies", "learning_rate", "subset_size", "generality", "task_similarity", "lora_rank",
            "regularization", "change_magnitude")
GRIDS_DIR = Path(__file__).resolve().parents[2] / "grids"  # the repository's grids/
TOP_KEYS = {"description", "profile", "extends", "rates", "defaults", "studies", "extend_edges", "secondary_tasks",
            "probe"}
PROBE_KEYS = {"train_sequences", "test_sequences"}


class GridError(ValueError):
    """A grid file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Grid:
    """A parsed grid file. `entries`: (task, the study's own settings) in file order."""

    path: Path
    profile: str
    entries: tuple[tuple[str, Mapping], ...]
    defaults: Mapping = field(default_factory=dict)
    rates: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    extend_edges: bool = False
    secondary_tasks: tuple[str, ...] = ()
    probe: Mapping | None = None  # {"train_sequences": n | None, "test_sequences": n | None}

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks of the studies, in file order, each once."""
        return tuple(dict.fromkeys(task for task, _ in self.entries))

    @property
    def rate_grid(self) -> str:
        """The defaults' rate_grid: "full" (every rate) or "middle" (only the middle one, not tuned)."""
        return self.defaults.get("rate_grid", RATE_GRIDS[0])

    def study(self, task: str, **overrides) -> Study:
        """The study of `task` (its first entry's settings; the defaults alone for a task without
        one), with every override that is not None applied (`repro.runs.study.build_study`)."""
        get_task_spec(task)
        own = next((settings for name, settings in self.entries if name == task), {})
        return self._build(task, own, overrides)

    def base_study(self, task: str, **overrides) -> Study:
        """Section 4's base runs of `task`: its study with the single variant "full" (full
        fine-tuning of the pretrained encoder), so a primary task's base is its own full run."""
        return self.study(task, **{**overrides, "selectors": "full"})

    def studies(self) -> list[Study]:
        """One study per entry, in file order."""
        return [self._build(task, own, {}) for task, own in self.entries]

    def base_studies(self) -> list[Study]:
        """The base studies of every primary and secondary task (none without secondary tasks)."""
        if not self.secondary_tasks:
            return []
        return [self.base_study(task) for task in dict.fromkeys(self.tasks + self.secondary_tasks)]

    def configs(self, data_source: str) -> list[RunConfig]:
        """Every run of every study in file order (duplicates kept: the sweep rejects them), then
        the base runs that are not runs of the studies already."""
        configs = [config for study in self.studies() for config in study.configs(data_source)]
        seen = {config.run_id() for config in configs}
        for study in self.base_studies():
            for config in study.configs(data_source):
                if config.run_id() not in seen:
                    seen.add(config.run_id())
                    configs.append(config)
        return configs

    def _build(self, task: str, own: Mapping, overrides: Mapping) -> Study:
        return build_study(task, profile_settings(self.profile, task), {"learning_rates": self.rates},
                           self.defaults, own, overrides)


def section_path(section: str, profile: str, grids_dir: str | Path | None = None) -> Path:
    """Where a section's grid file for `profile` lives; ValueError for an unknown section or profile."""
    if section not in SECTIONS:
        raise ValueError(f"unknown section {section!r}; known sections: {', '.join(SECTIONS)}")
    check_profile(profile)
    return Path(grids_dir or GRIDS_DIR) / profile / f"{section}.yaml"


def section_grid(section: str, profile: str, grids_dir: str | Path | None = None) -> Grid:
    """The grid of a section (`SECTIONS`) on a profile (`repro.runs.profiles.PROFILES`)."""
    path = section_path(section, profile, grids_dir)
    grid = load_grid(path)
    if grid.profile != profile:
        raise GridError(f"{path}: names profile {grid.profile!r}, but lies in the folder of profile {profile!r}")
    return grid


def section_study(section: str, profile: str, task: str, grids_dir: str | Path | None = None, **overrides) -> Study:
    """The study of `task` in a section's grid, with every override that is not None applied:
    `Study` settings or rate_grid, as literals or papermill strings ("random,bitfit", "1e-3,1e-2",
    "all"); ValueError names an unknown section, profile, task or setting."""
    return section_grid(section, profile, grids_dir).study(task, **overrides)


def _construct(node):
    return yaml.SafeLoader("").construct_document(node)


def _line(node) -> int:
    return node.start_mark.line + 1


def _compose(path: Path) -> dict[str, tuple[yaml.Node, Path]]:
    """The top-level keys of a grid file, each with its value node and the file that holds it,
    those of an `extends` file first."""
    if not path.is_file():
        raise GridError(f"grid file {path} does not exist")
    try:
        root = yaml.compose(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "unknown line"
        raise GridError(f"{path}, {where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(root, yaml.MappingNode):
        raise GridError(f"{path}, line 1: a grid file is a mapping with keys 'profile' and 'studies'")
    top = {key.value: (value, path) for key, value in root.value}
    unknown = [key for key, _ in root.value if key.value not in TOP_KEYS]
    if unknown:
        raise GridError(f"{path}, line {_line(unknown[0])}: unknown key {unknown[0].value!r}; "
                        f"allowed: {sorted(TOP_KEYS)}")
    if "extends" not in top:
        return top
    node, _ = top.pop("extends")
    base = path.parent / str(_construct(node))
    if base.resolve() == path.resolve():
        raise GridError(f"{path}, line {_line(node)}: a grid file cannot extend itself")
    return {**_compose(base), **top}


def _rates(node: yaml.Node, path: Path) -> dict[str, tuple[float, ...]]:
    """The `learning_rates` of the rates file that `node` names."""
    rates_path = path.parent / str(_construct(node))
    where = f"{path}, line {_line(node)}: rates file {rates_path}"
    if not rates_path.is_file():
        raise GridError(f"{where} does not exist")
    try:
        content = yaml.safe_load(rates_path.read_text())
    except yaml.YAMLError as error:
        raise GridError(f"{where} is not valid YAML ({error})") from None
    rates = content.get("learning_rates") if isinstance(content, dict) else None
    if not isinstance(rates, dict) or not rates:
        raise GridError(f"{where} needs a mapping 'learning_rates' of variant (or 'variant@size') to a list of rates")
    try:
        return {str(key): tuple(float(v) for v in grid) for key, grid in rates.items()}
    except (TypeError, ValueError) as error:
        raise GridError(f"{where}: every grid must be a list of numbers ({error})") from None


def _value(top: dict, key: str, kind: type, default):
    if key not in top:
        return default
    node, path = top[key]
    value = _construct(node)
    if not isinstance(value, kind):
        raise GridError(f"{path}, line {_line(node)}: {key!r} must be a {kind.__name__}, got {value!r}")
    return value


def _probe(top: dict) -> dict | None:
    probe = _value(top, "probe", dict, None)
    if probe is None:
        return None
    node, path = top["probe"]
    unknown = set(probe) - PROBE_KEYS
    bad = [k for k in PROBE_KEYS if probe.get(k) is not None and (not isinstance(probe[k], int) or probe[k] < 1)]
    if unknown or bad:
        raise GridError(f"{path}, line {_line(node)}: 'probe' takes {sorted(PROBE_KEYS)}, each a number of "
                        f"sequences >= 1 or null (all); got {probe!r}")
    return {key: probe.get(key) for key in sorted(PROBE_KEYS)}


def load_grid(path: str | Path) -> Grid:
    """Parse and validate a grid file (every run of it is built once); GridError names the line
    of any entry at fault."""
    path = Path(path)
    top = _compose(path)
    if "profile" not in top or "studies" not in top:
        raise GridError(f"{path}, line 1: a grid file needs 'profile' and 'studies'")
    profile_node, profile_path = top["profile"]
    profile = _construct(profile_node)
    if profile not in PROFILES:
        raise GridError(f"{profile_path}, line {_line(profile_node)}: unknown profile {profile!r}; "
                        f"known profiles: {sorted(PROFILES)}")
    rates = _rates(*top["rates"]) if "rates" in top else {}
    defaults = _value(top, "defaults", dict, {})
    if set(defaults) - SETTINGS:
        node, where = top["defaults"]
        raise GridError(f"{where}, line {_line(node)}: unknown study settings {sorted(set(defaults) - SETTINGS)}; "
                        f"allowed: {sorted(SETTINGS)}")
    secondary = _value(top, "secondary_tasks", list, [])
    entries_node, entries_path = top["studies"]
    if not isinstance(entries_node, yaml.SequenceNode) or not entries_node.value:
        raise GridError(f"{entries_path}, line {_line(entries_node)}: 'studies' must be a non-empty list")
    entries = []
    for node in entries_node.value:
        entry = _construct(node)
        if not isinstance(entry, dict) or "task" not in entry:
            raise GridError(f"{entries_path}, line {_line(node)}: each study needs a 'task'")
        settings = dict(entry)
        entries.append((settings.pop("task"), settings))
    grid = Grid(path, profile, tuple(entries), defaults, rates, _value(top, "extend_edges", bool, False),
                tuple(secondary), _probe(top))
    for (task, settings), node in zip(entries, entries_node.value):
        try:
            get_task_spec(task)
            grid._build(task, settings, {}).configs("local")  # validates every run (sizes, rates, variants)
        except ValueError as error:
            raise GridError(f"{entries_path}, line {_line(node)}: {error}") from None
    if secondary:
        node, where = top["secondary_tasks"]
        try:
            for study in grid.base_studies():
                study.configs("local")
        except ValueError as error:
            raise GridError(f"{where}, line {_line(node)}: {error}") from None
    return grid
