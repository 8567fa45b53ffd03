"""repro: subset selection, masked fine-tuning and the sweep behind the book.

Typical use::

    from repro import RunConfig, Workspace, run_one
    result = run_one(RunConfig(task="sst2", selector="random", learning_rate=1e-2, subset_size=1e-3),
                     Workspace.create("results", data_dir="../shared/data"))
"""
from repro.runs.config import RunConfig
from repro.runs.run import Workspace, run_one
from repro.runs.grid_files import section_grid, section_study
from repro.runs.profiles import PROFILES
from repro.runs.study import Study
from repro.runs.sweep import run_sweep
from repro.variants.registry import VARIANTS, get_variant

__all__ = ["PROFILES", "RunConfig", "Study", "VARIANTS", "Workspace", "get_variant", "run_one",
           "run_sweep", "section_grid", "section_study"]
