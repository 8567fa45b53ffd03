"""`python -m repro verify`: re-run randomly drawn runs of the reference store from scratch and
compare their metrics with the stored ones (they should be identical on the same torch and CPU
model; on another model floating-point results round differently: a training loss that differs
only in its last digits is reported as rounding, any other change as a difference).

Runs are drawn among the records made on this machine's CPU model (`cpu_model`), where they
should be identical, unless none was or `any_cpu` asks for all. Each drawn run is re-run in a
fresh temporary results folder with no reference, so nothing is reused: not its record, decoder
cache, statistics or weights. A run that started from another run's tuned encoder (`init_from`,
section 4's secondary runs) needs that primary run: it is re-run first in the same folder (from
its reference record) and compared too, with its record made again on this CPU model when the
reference keeps one under `remade/` (the weights the secondary run started from).
"""
from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from repro.data import resolve_data_dir
from repro.runs.config import RunConfig
from repro.runs.reference import reference_records, remade_runs
from repro.runs.run import Workspace, run_one
from repro.runs.store import FINISHED, RunResult, cpu_model, metric_agrees, same_cpu, same_result

COMPARED = ("validation", "test", "train")  # the metrics a report shows; every metric both records hold is compared


@dataclass
class Verification:
    """One re-run: the stored and the new result, and whether they are identical (`same_result`:
    same status and data fingerprint, every metric of the stored record equal in the new one, the
    training loss within float rounding when the CPU models differ; a metric only the newer code
    records, such as `train_examples`, is a note). `role`: "drawn", or "primary of <id>"."""

    config: RunConfig
    stored: RunResult
    new: RunResult
    role: str = "drawn"
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return same_result(self.stored, self.new)

    def describe(self) -> str:
        c = self.config
        head = (f"run {c.run_id()} ({c.variant}, {c.task}, lr {c.learning_rate:g}, seed {c.seed}; {self.role}): "
                f"{'identical' if self.identical else 'DIFFERS'}")
        lines = [head, f"  status: stored {self.stored.status}, new {self.new.status}"]
        for name in COMPARED:
            stored, new = self.stored.metrics.get(name), self.new.metrics.get(name)
            lines.append(f"  {name:<10} stored {_number(stored)}  new {_number(new)}{self._mark(name, stored, new)}")
        other = sorted(set(self.stored.metrics) - set(COMPARED))
        lines += [f"  {name:<10} stored {_number(self.stored.metrics.get(name))}  new "
                  f"{_number(self.new.metrics.get(name, _MISSING))}"
                  f"{self._mark(name, self.stored.metrics[name], self.new.metrics.get(name, _MISSING))}"
                  for name in other if self.stored.metrics[name] != self.new.metrics.get(name, _MISSING)]
        lines += [f"  {name:<10} new {_number(self.new.metrics[name])} (the stored record predates this metric)"
                  for name in sorted(set(self.new.metrics) - set(self.stored.metrics))]
        if self.stored.data_fingerprint != self.new.data_fingerprint:
            lines.append(f"  data: stored {self.stored.data_fingerprint}, read now {self.new.data_fingerprint}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


    def _mark(self, name: str, stored, new) -> str:
        if stored == new:
            return ""
        if new is not _MISSING and metric_agrees(name, stored, new, same_cpu(self.stored, self.new)):
            return "   (rounding: another CPU model, within the tolerance of repro.runs.store.CONTINUOUS_METRICS)"
        return "   <- differs"


_MISSING = object()  # a metric absent from a record (never equal to a value)


def _number(value) -> str:
    return "absent" if value is _MISSING else "-" if value is None else f"{value!r}"


@dataclass(frozen=True)
class Draw:
    """The drawn runs and where from: `pool` of the reference's `finished` records, those made on
    `cpu` (None: all of them)."""

    configs: list[RunConfig]
    pool: int
    finished: int
    cpu: str | None

    def describe(self, seed: int) -> str:
        where = (f"the {self.pool} made on this CPU model ({self.cpu})" if self.cpu else
                 f"all {self.pool} (on any CPU model: scores made on another may differ by rounding)")
        return f"{len(self.configs)} run(s) drawn with seed {seed} from {where} of {self.finished} finished records"


def draw(reference_dir: str | Path, sample: int, seed: int = 0, any_cpu: bool = False) -> Draw:
    """`sample` finished runs (ok or diverged) of the reference, drawn at random with `seed`
    from its sorted run ids: among those made on this CPU model (`cpu_model`), or all when none
    was or with `any_cpu`. ValueError when it holds none or `sample` < 1."""
    if sample < 1:
        raise ValueError(f"--sample {sample} must be >= 1")
    finished = [r for r in reference_records(reference_dir).values() if r.status in FINISHED]
    if not finished:
        raise ValueError(f"reference {reference_dir} holds no finished run record (runs/*.json)")
    here = [] if any_cpu else [r for r in finished if r.environment.get("cpu") == cpu_model()]
    pool = here or finished
    configs = [r.config for r in random.Random(seed).sample(pool, min(sample, len(pool)))]
    return Draw(configs, len(pool), len(finished), cpu_model() if here else None)


ENVIRONMENT = ("torch", "transformers", "python", "machine", "cpu")  # float results may differ when these do


def environment_notes(stored: RunResult, new: RunResult) -> list[str]:
    """A note per `ENVIRONMENT` entry in which the re-run's environment differs from the stored record's."""
    return [f"{key} differs: stored {stored.environment.get(key) or 'not recorded'}, now {new.environment.get(key)}"
            for key in ENVIRONMENT if stored.environment.get(key) != new.environment.get(key)]


def verify_run(config: RunConfig, reference_dir: str | Path, data_dir, *, device: str = "cpu",
               progress: bool = False) -> list[Verification]:
    """Re-run `config` (and first, in the same fresh folder, the chain of primaries it starts
    from) and compare each with its reference record; the drawn run comes last."""
    reference, remade = reference_records(reference_dir), remade_runs(reference_dir)
    chain = [config]
    while chain[0].init_from is not None:
        primary = reference.get(chain[0].init_from)
        if primary is None:
            raise ValueError(f"run {chain[0].run_id()} starts from run {chain[0].init_from}, which the reference "
                             f"{reference_dir} does not hold: it cannot be re-run")
        chain.insert(0, primary.config)
    with tempfile.TemporaryDirectory(prefix="repro-verify-") as folder:
        workspace = Workspace.create(Path(folder) / "results", data_dir, device=device, progress=progress)
        checks = []
        for position, run in enumerate(chain):
            new = run_one(run, workspace)
            stored, role = reference[run.run_id()], "drawn"
            if run is not config:
                role = f"primary of {chain[position + 1].run_id()}"
                here = [r for r in remade.get(run.run_id(), []) if same_cpu(r, new)]
                if here:
                    stored, role = here[0], role + ", its record made again on this CPU model (remade/)"
            checks.append(Verification(run, stored, new, role, environment_notes(stored, new)))
    return checks


def verify(reference_dir: str | Path, sample: int, seed: int = 0, data_dir=None, *, any_cpu: bool = False,
           device: str = "cpu", progress: bool = True, echo=print) -> list[Verification]:
    """Draw `sample` reference runs (`draw`), re-run each (`verify_run`), `echo` each report as
    it is done, and return them all. ValueError when a drawn run wants another data source than
    the workspace reads (e.g. local data and no data folder)."""
    chosen = draw(reference_dir, sample, seed, any_cpu)
    drawn = chosen.configs
    source = "hub" if resolve_data_dir(data_dir) is None else "local"
    wrong = [c for c in drawn if c.data_source != source]
    if wrong:
        raise ValueError(f"run {wrong[0].run_id()} read {wrong[0].data_source!r} data, but {source!r} data would "
                         f"be read now: give --data-dir (or REPRO_DATA_DIR) a data folder")
    echo(f"verifying {chosen.describe(seed)} in {reference_dir}")
    checks = []
    for config in drawn:
        for check in verify_run(config, reference_dir, data_dir, device=device, progress=progress):
            echo(check.describe())
            checks.append(check)
    return checks
