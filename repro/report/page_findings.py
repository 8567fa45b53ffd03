"""What a book page found, shown under its "What we found" heading: the page's claims
(`repro.findings.claims.CLAIMS` whose `page` is the notebook) weighed on the runs its workspace
holds, one sentence each with the effect, its 95% CI, n, p, the noise floor and the verdict,
then the page's own statements; how many of the page's runs are pending; and, when none of its
cells is complete, the commands that compute them instead.

The heading sits above the page's parameters, so nothing can be computed there: `placeholder()`
displays a stand-in and returns its display handle, and one of the page's last cells replaces
it (`handle.update(Markdown(found_block(...)))`); the executed notebook and the book then show
the generated text at the top (papermill applies the update to the earlier cell's output).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Iterable, Sequence

import pandas as pd

from repro.findings import tidy
from repro.findings.claims import CLAIMS, Claim
from repro.findings.evidence import Evidence
from repro.runs.keys import plain_key
from repro.findings.measures import mlm_probes
from repro.findings.summary import interim_text
from repro.findings.verdicts import Verdict
from repro.report.openings import commands
from repro.runs.learning_rate import PENDING, STUDY_FIELDS
from repro.runs.store import STATUSES

PLACEHOLDER = "*Written when the page has run: see the results below.*"


def placeholder():
    """Display `PLACEHOLDER` and return its `IPython.display.DisplayHandle` (`update` replaces it)."""
    from IPython.display import Markdown, display

    return display(Markdown(PLACEHOLDER), display_id=True)


@dataclass(frozen=True)
class Progress:
    """A page's runs and cells: `runs` it needs, `pending` of them in neither the results folder
    nor the reference; `cells` it shows (task x variant x size), `complete` of them with no
    pending run."""

    runs: int
    pending: int
    cells: int
    complete: int

    @classmethod
    def of(cls, summary: pd.DataFrame, configs: Iterable) -> "Progress":
        """From `repro.runs.learning_rate.summarise(frame, expected=configs)` rows (`n_pending`)
        and the page's run configs."""
        pending = summary["n_pending"].astype(int) if "n_pending" in summary else pd.Series(0, index=summary.index)
        return cls(len({c.run_id() for c in configs}), int(pending.sum()), len(summary), int((pending == 0).sum()))

    def note(self) -> str:
        """How many cells are shown and how many runs are pending; "" when nothing is pending."""
        if not self.pending:
            return ""
        return (f"Shown: the {self.complete} of {self.cells} cells whose runs are all stored; pending: "
                f"{self.cells - self.complete} cell(s), {self.pending} of this page's {self.runs} runs (in neither the "
                "results folder nor the reference store yet).")


def complete(summary: pd.DataFrame) -> pd.DataFrame:
    """The `summarise` rows with no pending run (all rows when there is no `n_pending` column)."""
    return summary[summary["n_pending"] == 0] if "n_pending" in summary else summary


def complete_runs(frame: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """The stored runs (`ResultStore.to_frame()` rows) of the `complete` cells of `summary`."""
    if frame.empty:
        return frame
    keys = [c for c in STUDY_FIELDS if c in summary.columns and c in frame.columns]
    return frame[plain_key(frame, keys).isin(set(plain_key(complete(summary), keys)))]


def status_counts(frame: pd.DataFrame, configs: Iterable) -> pd.DataFrame:
    """Runs per task (index) and status: ok, diverged, failed as stored (`frame`: the page's
    `ResultStore.to_frame()` rows), pending for a run of `configs` in neither store."""
    stored = dict(zip(frame["run_id"], frame["status"])) if not frame.empty else {}
    rows = pd.DataFrame([(c.task, stored.get(c.run_id(), PENDING)) for c in {c.run_id(): c for c in configs}.values()],
                        columns=["task", "status"])
    counts = rows.groupby(["task", "status"]).size().unstack(fill_value=0)
    return counts.reindex(columns=[s for s in (*STATUSES, PENDING) if s in counts.columns])


class LazyTestSizes(Mapping):
    """Examples in each task's test split (`repro.data.load_task`), read when first asked for; a
    task whose data cannot be read is absent (its noise floor is then unknown)."""

    def __init__(self, data_dir=None):
        self.data_dir, self._sizes = data_dir, {}

    def _size(self, task: str) -> int | None:
        if task not in self._sizes:
            from repro.data import load_task

            try:
                self._sizes[task] = len(load_task(task, self.data_dir).test)
            except (OSError, ValueError, KeyError, RuntimeError):
                self._sizes[task] = None
        return self._sizes[task]

    def __contains__(self, task) -> bool:
        return isinstance(task, str) and self._size(task) is not None

    def __getitem__(self, task: str) -> int:
        size = self._size(task)
        if size is None:
            raise KeyError(task)
        return size

    def __iter__(self):
        return iter(t for t, n in self._sizes.items() if n is not None)

    def __len__(self) -> int:
        return sum(n is not None for n in self._sizes.values())


def page_claims(notebook: str) -> list[Claim]:
    """The claims whose page is `notebook` ("01_selection_strategies.ipynb"), in the registry's order."""
    return [claim for claim in CLAIMS if claim.page == notebook]


def workspace_tables(workspace) -> tidy.RunTables:
    """`repro.findings.tidy.RunTables` of every run a workspace reads (its results folder, then its
    reference) and of their MLM probe records (the results folder's first)."""
    probes = [mlm_probes(root) for root in (workspace.results_dir, workspace.reference_dir) if root is not None]
    probes = pd.concat(probes, ignore_index=True).drop_duplicates(["subject", "setting"])
    return tidy.tables(workspace.store.to_frame(), probes)


def claim_sentence(claim: Claim, evidence: Evidence, so_far: Evidence | None = None) -> str:
    """One claim in Markdown: the claim, then ours (effect, 95% CI, n, p: `Evidence.summary`), the
    test, the noise floor and the verdict; a pending claim says how many cells it lacks and the
    first, then its interim (`Claim.interim`) when given."""
    if evidence.verdict == Verdict.PENDING:
        first = f" (first: {evidence.missing[0]})" if evidence.missing else ""
        interim = f" So far, on {interim_text(claim, so_far)} (not a verdict)." if so_far is not None else ""
        return f"**{claim.statement}** Pending: {len(evidence.missing)} cell(s) it needs are incomplete{first}.{interim}"
    floor = ("" if math.isnan(evidence.noise_floor) else
             f"; noise floor {evidence.noise_floor:.4f} (binomial SE of a score on the test set)")
    return (f"**{claim.statement}** Ours: {evidence.summary}. Test: {evidence.test}{floor}. "
            f"Verdict: **{evidence.verdict.value}**.")


def claim_sentences(notebook: str, workspace, test_sizes: Mapping[str, int] | None = None) -> list[str]:
    """`claim_sentence` of each of the page's claims, weighed on every run of `workspace`
    (`workspace_tables`), as the findings page weighs them; `test_sizes` default: `LazyTestSizes`
    of the workspace's data folder."""
    claims = page_claims(notebook)
    if not claims:
        return []
    tables = workspace_tables(workspace)
    sizes = LazyTestSizes(workspace.data_dir) if test_sizes is None else test_sizes
    sentences = []
    for claim in claims:
        evidence = claim.evaluate(tables, sizes)
        so_far = claim.interim(tables, sizes) if evidence.verdict == Verdict.PENDING else None
        sentences.append(claim_sentence(claim, evidence, so_far))
    return sentences


def found_block(section: str, claims: Sequence[str], progress: Progress, profile: str, statements: str = "") -> str:
    """The Markdown under a page's "What we found" heading: the `claims` sentences as bullets, the
    page's own `statements` (Markdown), `progress.note()` and a pointer to the findings page; with
    no complete cell, that nothing is computed yet on `profile`, and the commands that compute it
    (`repro.report.openings.commands`)."""
    if progress.complete == 0:
        return (f"Nothing yet: none of this page's {progress.cells} cells has all its runs on profile **{profile}** "
                f"({progress.pending} of {progress.runs} runs pending). These commands compute them and execute the "
                "page; the sweep's dry run (`--dry-run`) estimates the time from the finished runs:\n\n"
                + commands(section, profile))
    parts = ["\n".join(f"- {sentence.strip()}" for sentence in claims)] if claims else []
    parts += [text.strip() for text in (statements, progress.note()) if text.strip()]
    parts.append("Every claim of the paper with its verdict: the {doc}`findings page <00_findings>`.")
    return "\n\n".join(parts)
