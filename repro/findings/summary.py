"""The findings page's content: every claim's evidence, the findings table, the answer paragraph
(written from the verdicts, never by hand) and the runs pending claims still need."""
from __future__ import annotations

from collections import Counter
from typing import Mapping, Sequence

import pandas as pd

from repro.data import load_task
from repro.findings.claims import CLAIMS, Claim
from repro.findings.evidence import Evidence
from repro.findings.tidy import RunTables
from repro.findings.verdicts import ALPHA, EQUIVALENCE_MARGIN, Verdict

QUESTION = "Is there an optimal subset of parameters to tune?"


def test_set_sizes(tasks: Sequence[str], data_dir=None) -> dict[str, int]:
    """Examples in each task's test split (`repro.data.load_task`; local data: read from the folder)."""
    return {task: len(load_task(task, data_dir).test) for task in tasks}


def weigh(tables: RunTables, test_sizes: Mapping[str, int], claims: Sequence[Claim] = CLAIMS) -> list[tuple[Claim, Evidence]]:
    """Each claim with its evidence, in the registry's order."""
    return [(claim, claim.evaluate(tables, test_sizes)) for claim in claims]


def interims(tables: RunTables, test_sizes: Mapping[str, int],
             weighed: Sequence[tuple[Claim, Evidence]]) -> dict[str, Evidence]:
    """Claim key -> `Claim.interim` of each pending claim with some of its tasks complete: ours
    on those tasks, shown beside the claim's verdict (pending), never as it."""
    found = {claim.key: claim.interim(tables, test_sizes) for claim, e in weighed if e.verdict == Verdict.PENDING}
    return {key: evidence for key, evidence in found.items() if evidence is not None}


def interim_text(claim: Claim, evidence: Evidence) -> str:
    """E.g. "sst2 (1 of 4 tasks): holds; full - lora: +0.0123 [...]"."""
    return (f"{', '.join(evidence.tasks)} ({len(evidence.tasks)} of {len(claim.scope)} tasks): "
            f"{evidence.verdict.value}; {evidence.summary}")


def _number(value: float, digits: int = 4) -> str:
    return "—" if pd.isna(value) else f"{value:.{digits}f}"


def findings_table(weighed: Sequence[tuple[Claim, Evidence]],
                   interim: Mapping[str, Evidence] | None = None) -> pd.DataFrame:
    """One row per claim: the claim, the paper's evidence, ours (effect, 95% CI, n), the test and
    its p, the noise floor, the verdict and the page (a MyST {doc} link: it resolves whether the
    page was executed or is a placeholder). A pending claim with an `interim` (`interims`) shows
    it as ours, marked "so far" and with its tasks; its verdict stays pending."""
    rows = []
    for claim, e in weighed:
        shown = (interim or {}).get(claim.key, e)  # its test, p and noise floor are shown
        ours = e.summary if e.verdict != Verdict.PENDING else f"pending ({len(e.missing)} cell(s) incomplete)"
        if shown is not e:
            ours += f"; so far, on {interim_text(claim, shown)}"
        rows.append({"claim": claim.statement, "paper": claim.paper, "ours (95% CI, n)": ours, "test": shown.test,
                     "p": "—" if pd.isna(shown.p) else f"{shown.p:.3g}",
                     "noise floor (binomial SE)": _number(shown.noise_floor), "verdict": e.verdict.value,
                     "page": f"{{doc}}`{claim.page.removesuffix('.ipynb')}`"})
    return pd.DataFrame(rows)


def markdown_table(frame: pd.DataFrame) -> str:
    """`frame` as a Markdown table (cells on one line, '|' escaped), so links in it work."""
    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(cell(c) for c in frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def setting(tables: RunTables) -> str:
    """What the findings rest on, e.g. "1,234 runs at their chosen learning rates of minilm-l6 (5
    tasks)"; "an empty store (no runs yet)" for a store without runs."""
    if tables.cells.empty:
        return "an empty store (no runs yet)"
    models = sorted({label.split(",")[0] for label in tables.cells["study"]})
    tasks = sorted(set(tables.cells["task"]) | set(tables.secondary.get("secondary_task", [])))
    runs = int(tables.seeds.shape[0])
    return f"{runs:,} runs at their chosen learning rates of {', '.join(models)} ({len(tasks)} tasks)"


def _phrase(verdict: Verdict) -> str:
    return {Verdict.HOLDS: "holds here", Verdict.CONTRADICTED: "is contradicted here",
            Verdict.INCONCLUSIVE: "is inconclusive at this scale", Verdict.PENDING: "is pending (runs missing)"}[verdict]


def answer(weighed: Sequence[tuple[Claim, Evidence]], scale: str, so_far: Mapping[str, Evidence] | None = None) -> str:
    """The answer to `QUESTION` in one paragraph, from the verdicts: what they rest on (`scale`,
    e.g. `setting(tables)`), the counts, then the claims that carry the paper's answer (random
    competitive, the gradient selectors' order, generality), and the counts of the pending
    claims' `interims` (`so_far`), named as such."""
    by_key = {claim.key: e for claim, e in weighed}
    counts = Counter(e.verdict for _, e in weighed)
    tally = ", ".join(f"{v.value}: {counts[v]}" for v in Verdict if counts[v])
    text = [f"On {scale}, the paper's {len(weighed)} claims checked here come out as follows: {tally} (alpha "
            f"{ALPHA:g}, Holm-corrected within each claim)."]
    if "random_competitive" in by_key:
        text.append(f"The paper's answer to the question, that no selector is much better than a tuned random subset, "
                    f"{_phrase(by_key['random_competitive'].verdict)} under an equivalence margin of "
                    f"{EQUIVALENCE_MARGIN:g} fixed in advance.")
    if "gradient_statistics_order" in by_key:
        text.append(f"The order combined > downstream > pretraining statistics "
                    f"{_phrase(by_key['gradient_statistics_order'].verdict)}.")
    generality = [k for k in ("subset_hurts_mlm", "subset_hurts_adaptation") if k in by_key]
    if generality:
        verdicts = {by_key[k].verdict for k in generality}
        text.append("That subset tuning costs generality (MLM probe, secondary tasks) "
                    + (_phrase(verdicts.pop()) if len(verdicts) == 1 else
                       "; ".join(f"{k.removeprefix('subset_hurts_')}: {by_key[k].verdict.value}" for k in generality))
                    + ".")
    if counts[Verdict.PENDING]:
        text.append("Pending claims lack runs of the reference grid; the list below names them.")
    if so_far:
        interim = Counter(e.verdict for e in so_far.values())
        text.append(f"Weighed so far on the tasks whose runs are all in (not verdicts: the claims speak of every "
                    f"task), {len(so_far)} of the pending claims come out as "
                    + ", ".join(f"{v.value}: {interim[v]}" for v in Verdict if interim[v]) + ".")
    return " ".join(text)


def details_table(evidence: Evidence) -> pd.DataFrame:
    """A claim's comparisons for display: differences and their intervals signed to 4 decimals,
    other numbers (p-values, learning rates) to 3 significant digits."""
    shown = evidence.details.copy()
    for column in shown.columns:
        if shown[column].dtype.kind != "f":
            continue
        signed = column in ("difference", "ci low", "ci high", "log10 ratio")
        shown[column] = shown[column].map(lambda v: "—" if pd.isna(v) else f"{v:+.4f}" if signed else f"{v:.3g}")
    return shown


def missing_runs(weighed: Sequence[tuple[Claim, Evidence]]) -> str:
    """Markdown: per pending claim, the cells it still needs (empty when none is pending)."""
    parts = [f"- **{claim.statement}** ({claim.page}): " + "; ".join(e.missing)
             for claim, e in weighed if e.verdict == Verdict.PENDING]
    return "\n".join(parts)
