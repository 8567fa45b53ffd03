"""The paper's claims, each with the paper's evidence and the function that weighs ours.

Every `Claim` quotes the paper (checked against its text), states its evidence from the
transcribed tables (`repro.report.paper_table1`, `repro.report.paper_generality`: the numbers
are computed from them, never typed again) and names the book page that shows our data.
`Claim.evaluate(tables, test_sizes)` returns an `repro.findings.evidence.Evidence` on the claim's
tasks (`Claim.scope`); `Claim.interim` weighs a pending claim on those of its tasks that are
complete, which is shown beside the claim's verdict, never as it.

Scope (the reference grids, `grids/reference/`): Table 1 on four tasks and Fig. 3 on SST-2 and
TREC-6 with at least 5 seeds; section 4 with at least 3 (primary SST-2; Table 8's primary
CoNLL-2003). Other tasks found in the data with the cells a claim needs join it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Mapping, Sequence

from repro.findings.evidence import Cell, Evidence, compare, equivalent, ordered, similarity
from repro.findings.rates import rate_pairs, rate_trend
from repro.findings.tidy import RunTables
from repro.findings.verdicts import EQUIVALENCE_MARGIN, Verdict
from repro.report.paper_generality import TABLE3, TABLE8, TABLE8_GERMAN_BASELINE
from repro.report.paper_table1 import TABLE1, TABLE1_TASKS

TABLE1_SCOPE = ("sst2", "qnli", "conll03", "trec6")
FIG3_SCOPE = ("sst2", "trec6")
GENERALITY_SCOPE = ("sst2",)
SIMILARITY_TASK, SIMILAR, DISSIMILAR = "conll03", "conll03_de", "trec6"
MIN_SEEDS, MIN_SEEDS_GENERALITY = 5, 3
SIZES = (1e-4, 1e-3, 3e-3, 1e-2)  # Fig. 3's sizes in the reference grid (BitFit's share aside)
VERY_SMALL = 1e-4                  # "very small subset sizes" (paper, section 3.3.2): the smallest size

PEFT = ("lora", "random", "bitfit", "largest_pretrain_sqgrad", "largest_downstream_sqgrad", "combined",
        "diff_pruning", "diff_pruning_no_retrain")
# Subset tuning proper: pruning without re-training "cannot be considered a subset tuning method" (section 3.1).
SUBSET_TUNING = ("random", "bitfit", "largest_pretrain_sqgrad", "largest_downstream_sqgrad", "combined", "diff_pruning")
GRADIENT = ("largest_downstream_sqgrad", "combined")
RATE_SELECTORS = ("random", "largest_pretrain_sqgrad", "largest_downstream_sqgrad", "combined", "diff_pruning")
SIMILARITY_CELLS = tuple(Cell(v, s) for v in ("random", "largest_downstream_sqgrad", "diff_pruning_no_retrain")
                         for s in (1e-3, 1e-2))


@dataclass(frozen=True)
class Claim:
    """`statement`: the claim in a sentence; `quote`: the paper's words and section; `paper`: its
    evidence (table or figure and numbers); `page`: the book page with our data; `scope`: the
    tasks it is weighed on; `weigh`: (RunTables, test-set sizes per task, tasks) -> Evidence."""

    key: str
    statement: str
    quote: str
    paper: str
    page: str
    scope: tuple[str, ...]
    weigh: Callable[[RunTables, Mapping[str, int], Sequence[str]], Evidence]

    def evaluate(self, tables: RunTables, test_sizes: Mapping[str, int]) -> Evidence:
        """Ours on the claim's `scope` (plus any other task with every cell it needs complete)."""
        return self.weigh(tables, test_sizes, self.scope)

    def interim(self, tables: RunTables, test_sizes: Mapping[str, int]) -> Evidence | None:
        """Ours on those tasks of the claim's scope whose cells are all complete (`Evidence.tasks`
        names them), for a claim still pending on the others; None when no task or every task
        of the scope is complete."""
        complete = tuple(t for t in self.scope if self.weigh(tables, test_sizes, (t,)).verdict != Verdict.PENDING)
        return self.weigh(tables, test_sizes, complete) if complete and complete != self.scope else None


def _t1(variant: str, task: str) -> float:
    return TABLE1[variant][TABLE1_TASKS.index(task)][0]


def _full_vs_peft() -> str:
    parts = []
    for task in TABLE1_TASKS:
        best = max(PEFT, key=lambda v: _t1(v, task))
        parts.append(f"{task} {_t1('full', task):.4f} vs {best} {_t1(best, task):.4f}")
    return "Table 1 (full FT vs the best PEFT method): " + "; ".join(parts)


def _lora_rank() -> str:
    ranks = [f"{task} {sorted(PEFT, key=lambda v: -_t1(v, task)).index('lora') + 1}" for task in TABLE1_TASKS]
    return f"Table 1: LoRA's rank among the {len(PEFT)} PEFT methods: " + ", ".join(ranks)


def _random_spread() -> str:
    parts = []
    for task in TABLE1_TASKS:
        far = max(PEFT[2:], key=lambda v: abs(_t1(v, task) - _t1("random", task)))
        parts.append(f"{task} {_t1(far, task) - _t1('random', task):+.4f} ({far})")
    return "Table 1, the selector farthest from random per task: " + "; ".join(parts)


def _gradient_order() -> str:
    order = ("combined", "largest_downstream_sqgrad", "largest_pretrain_sqgrad")
    return "Table 1 (combined / downstream / pretraining sq-grad): " + "; ".join(
        f"{task} " + " / ".join(f"{_t1(v, task):.4f}" for v in order) for task in TABLE1_TASKS)


def _table3(measure: int, variants) -> str:
    return ", ".join(f"{v} {TABLE3[v][measure][0]:+.4f}" for v in variants)


def _table8_small(variants) -> str:
    """Table 8's English CoNLL scores at the smallest size (the only numbers at that size in the paper)."""
    row = TABLE8[VERY_SMALL]
    return (f"Fig. 3 (a figure; the text gives no numbers); Table 8 (XLM-RoBERTa, CoNLL-2003 English, {VERY_SMALL:g}): "
            + ", ".join(f"{v} {row[v][0][0]:.4f}" for v in variants))


def _similarity() -> str:
    german = [row[2][0] for rows in TABLE8.values() for row in rows.values()]
    below = sum(score < TABLE8_GERMAN_BASELINE[0] for score in german)
    return (f"Table 8 (XLM-RoBERTa, primary CoNLL-2003 English): after full fine-tuning on German CoNLL, {below} of "
            f"{len(german)} tuned encoders score below the pretrained model's {TABLE8_GERMAN_BASELINE[0]:.4f}; the paper "
            "draws no conclusion from one similar and one dissimilar task")


table1 = partial(compare, min_seeds=MIN_SEEDS)

CLAIMS = (
    Claim("full_beats_peft", "Full fine-tuning beats every PEFT method on every task.",
          "\"the full fine-tuning baseline outperforms all parameter-efficient fine-tuning methods on all of the "
          "tasks\" (3.3.1)", _full_vs_peft(), "01_selection_strategies.ipynb", TABLE1_SCOPE,
          lambda t, n, tasks: table1(t, tasks, pairs=[(Cell("full"), Cell(v)) for v in PEFT], k=1, test_sizes=n)),
    Claim("lora_top_two", "LoRA is among the top two PEFT methods on every task.",
          "\"LoRA is always among the top two PEFT methods\" (3.3.1)", _lora_rank(), "01_selection_strategies.ipynb",
          TABLE1_SCOPE,
          lambda t, n, tasks: table1(t, tasks, pairs=[(Cell("lora"), Cell(v)) for v in PEFT if v != "lora"], k=2,
                                     test_sizes=n)),
    Claim("random_competitive", f"The subset selectors differ from a tuned random subset by less than "
          f"{EQUIVALENCE_MARGIN:g} (equivalence margin stated in advance).",
          "\"the differences between different subset selection methods are marginal [...] and do not significantly "
          "outperform even a random subset selection baseline\" (1); \"a properly tuned random subset scores "
          "competitively\" (3.3.1)", _random_spread(), "01_selection_strategies.ipynb", TABLE1_SCOPE,
          lambda t, n, tasks: equivalent(t, tasks, [(Cell(v), Cell("random")) for v in PEFT[2:]],
                                         margin=EQUIVALENCE_MARGIN, min_seeds=MIN_SEEDS, test_sizes=n)),
    Claim("gradient_statistics_order", "Combined statistics > downstream > pretraining statistics.",
          "\"The method using combined gradient statistics consistently outperforms the other two approaches using "
          "gradient statistics\" (3.3.1); pretraining statistics fare \"worse in regard to the primary score\" (4.3)",
          _gradient_order(), "01_selection_strategies.ipynb", TABLE1_SCOPE,
          lambda t, n, tasks: ordered(t, tasks, [Cell(v) for v in ("largest_pretrain_sqgrad",
                                                                   "largest_downstream_sqgrad", "combined")],
                                      min_seeds=MIN_SEEDS, test_sizes=n)),
    Claim("small_subsets_gradient", f"At very small subsets ({VERY_SMALL:g}) the gradient selectors beat random.",
          "\"either the combined or only the downstream gradient statistics method outperform all other selective PEFT "
          "methods when using very small subset sizes\"; \"the random baseline does not perform as well\" (3.3.2)",
          _table8_small(GRADIENT + ("random",)) + "; random chose the grid's top rate, 0.1, at the smallest size",
          "03_subset_size.ipynb", FIG3_SCOPE,
          lambda t, n, tasks: compare(t, tasks, [(Cell(v, VERY_SMALL), Cell("random", VERY_SMALL)) for v in GRADIENT],
                                      k=1, min_seeds=MIN_SEEDS, test_sizes=n)),
    Claim("small_subsets_pruning", f"At very small subsets ({VERY_SMALL:g}) pruning without re-training trails the "
          "gradient selectors and pruning with re-training.",
          "\"Pruning without retraining underperforms likely due to the large amount of information that is lost "
          "during the pruning step\" (3.3.2)", _table8_small(GRADIENT + ("diff_pruning", "diff_pruning_no_retrain")),
          "03_subset_size.ipynb", FIG3_SCOPE,
          lambda t, n, tasks: compare(t, tasks, [(Cell(v, VERY_SMALL), Cell("diff_pruning_no_retrain", VERY_SMALL))
                                                 for v in GRADIENT + ("diff_pruning",)], k=1, min_seeds=MIN_SEEDS,
                                      test_sizes=n)),
    Claim("rate_falls_with_size", "The chosen learning rate falls as the subset grows.",
          "\"the potential change of the network's function depends on (1) the [...] number of parameters that can "
          "be affected and (2) the gradient these parameters receive\" (3.3.2)",
          "Figs. 2 and 4 (figures, no numbers in the text); random chose the top rate, 0.1, at the smallest size "
          "(TREC-6: also the second smallest)", "02_learning_rate.ipynb", FIG3_SCOPE,
          lambda t, n, tasks: rate_trend(t, tasks, RATE_SELECTORS, SIZES, min_seeds=MIN_SEEDS)),
    Claim("random_higher_rate", "A random subset wants a higher learning rate than downstream sq-grad's.",
          "\"The latter subset receives (on average) a larger gradient magnitude and may therefore require a lower "
          "learning rate\" (3.3.2, Fig. 2)", "Fig. 2 (a figure; the text gives no numbers)", "02_learning_rate.ipynb",
          FIG3_SCOPE,
          lambda t, n, tasks: rate_pairs(t, tasks, "random", "largest_downstream_sqgrad", SIZES, min_seeds=MIN_SEEDS)),
    Claim("bitfit_smallest_gap", "BitFit has the smallest train/test gap among the PEFT methods.",
          "\"it has the lowest train/test gap among the PEFT methods\" (4.3)",
          "Table 3, gap (test minus train, averaged over tasks): " + _table3(2, PEFT[:-1])
          + f"; pruning w/o re-training ({TABLE3['diff_pruning_no_retrain'][2][0]:+.4f}) is not counted as PEFT "
          "here, or the sentence would not hold", "04_generality.ipynb", TABLE1_SCOPE,
          lambda t, n, tasks: compare(t, tasks, [(Cell("bitfit"), Cell(v)) for v in PEFT[:-1] if v != "bitfit"],
                                      measure="gap", k=1, min_seeds=MIN_SEEDS, pool_tasks=True, test_sizes=n)),
    Claim("full_largest_gap", "Full fine-tuning has the largest train/test gap.",
          "\"Full fine-tuning (as one might expect) has the highest overall train/test gap\" (4.3)",
          "Table 3, gap: " + _table3(2, ("full",) + PEFT), "04_generality.ipynb", TABLE1_SCOPE,
          lambda t, n, tasks: compare(t, tasks, [(Cell(v), Cell("full")) for v in PEFT], measure="gap", k=1,
                                      min_seeds=MIN_SEEDS, pool_tasks=True, test_sizes=n)),
    Claim("subset_hurts_mlm", "Subset tuning keeps less of the MLM ability than full fine-tuning.",
          "\"subset-tuning methods tend to modify embedding networks significantly more [...] The prior function of "
          "the network [...] can be more affected\" (1)",
          "Table 3, MLM change: " + _table3(1, ("full",) + SUBSET_TUNING), "04_generality.ipynb", GENERALITY_SCOPE,
          lambda t, n, tasks: compare(t, tasks, [(Cell("full"), Cell(v)) for v in SUBSET_TUNING], measure="mlm_diff",
                                      k=1, min_seeds=MIN_SEEDS_GENERALITY, pool_tasks=True, test_sizes=n)),
    Claim("subset_hurts_adaptation", "Subset tuning adapts worse to secondary tasks than full fine-tuning.",
          "\"None of the strategies outperform full fine-tuning in terms of the embedding network's ability to adapt "
          "to new tasks\" (4.3)", "Table 3, secondary score change: " + _table3(3, ("full",) + SUBSET_TUNING),
          "04_generality.ipynb", GENERALITY_SCOPE,
          lambda t, n, tasks: compare(t, tasks, [(Cell("full"), Cell(v)) for v in SUBSET_TUNING],
                                      measure="secondary_diff", k=1, min_seeds=MIN_SEEDS_GENERALITY, pool_tasks=True,
                                      test_sizes=n)),
    Claim("similarity_inconclusive", "Similar vs dissimilar secondary tasks: no consistent effect.",
          "\"the data is fairly inconsistent [...] it is not possible to draw any definite conclusions\" (4.4)",
          _similarity(), "05_task_similarity.ipynb", (SIMILARITY_TASK,),
          lambda t, n, tasks: similarity(t, tasks[0], SIMILAR, DISSIMILAR, SIMILARITY_CELLS,
                                         min_seeds=MIN_SEEDS_GENERALITY)),
)


def claim_named(key: str) -> Claim:
    """The claim with this key; KeyError listing the keys."""
    for claim in CLAIMS:
        if claim.key == key:
            return claim
    raise KeyError(f"no claim {key!r}; claims: {[c.key for c in CLAIMS]}")
