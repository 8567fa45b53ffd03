"""repro: subset selection, masked fine-tuning and the sweep behind the book.

Typical use::

    from repro import RunConfig, Workspace, run_one
    result = run_one(RunConfig(task="sst2", selector="random", learning_rate=1e-2, subset_size=1e-3),
                     Workspace.create("results", data_dir="../shared/data"))
"""
from repro.runs.config import RunConfig
from repro.runs.run import Workspace, run_one
from repro.selection.selectors import SELECTORS, get_selector
from repro.runs.study import PROFILES, Study, study_from_profile
from repro.runs.sweep import run_sweep

__all__ = ["PROFILES", "RunConfig", "SELECTORS", "Study", "Workspace", "get_selector", "run_one",
           "run_sweep", "study_from_profile"]
