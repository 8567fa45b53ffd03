"""Grid files: YAML lists of studies that expand into run configurations.

A grid file names a profile and the studies to run under it; each study entry takes a task
and any `Study` setting to override (see `repro.runs.study.study_from_profile`):

    profile: cpu
    studies:
      - task: sst2
      - task: trec6
        seeds: [0, 1]

Errors name the file and the line of the entry at fault.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from repro.runs.config import RunConfig
from repro.runs.study import Study, study_from_profile

TOP_KEYS = {"profile", "studies", "description"}


class GridError(ValueError):
    """A grid file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Grid:
    path: Path
    profile: str
    studies: tuple[Study, ...]

    def configs(self, data_source: str) -> list[RunConfig]:
        """Every run of every study, in file order (duplicates kept: the sweep rejects them)."""
        return [config for study in self.studies for config in study.configs(data_source)]


def _construct(node):
    return yaml.SafeLoader("").construct_document(node)


def load_grid(path: str | Path) -> Grid:
    """Parse and validate a grid file; GridError names the line of any entry at fault."""
    path = Path(path)
    if not path.is_file():
        raise GridError(f"grid file {path} does not exist")
    text = path.read_text()
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "unknown line"
        raise GridError(f"{path}, {where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(root, yaml.MappingNode):
        raise GridError(f"{path}, line 1: a grid file is a mapping with keys 'profile' and 'studies'")
    top = {key.value: value for key, value in root.value}
    unknown = set(top) - TOP_KEYS
    if unknown:
        key_node = next(k for k, _ in root.value if k.value in unknown)
        raise GridError(f"{path}, line {key_node.start_mark.line + 1}: unknown key {key_node.value!r}; "
                        f"allowed: {sorted(TOP_KEYS)}")
    if "profile" not in top or "studies" not in top:
        raise GridError(f"{path}, line 1: a grid file needs 'profile' and 'studies'")
    profile = _construct(top["profile"])
    entries = top["studies"]
    if not isinstance(entries, yaml.SequenceNode) or not entries.value:
        raise GridError(f"{path}, line {entries.start_mark.line + 1}: 'studies' must be a non-empty list")
    studies = []
    for node in entries.value:
        line = node.start_mark.line + 1
        entry = _construct(node)
        if not isinstance(entry, dict) or "task" not in entry:
            raise GridError(f"{path}, line {line}: each study needs a 'task'")
        settings = dict(entry)
        task = settings.pop("task")
        try:
            study = study_from_profile(profile, task, **settings)
            study.configs("local")  # validates every run (task names, sizes, rates)
        except ValueError as error:
            raise GridError(f"{path}, line {line}: {error}") from None
        studies.append(study)
    return Grid(path, profile, tuple(studies))
