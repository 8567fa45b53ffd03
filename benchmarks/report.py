"""The speed report: a markdown table of measurements, the goals' verdicts, where time goes."""
from __future__ import annotations

from dataclasses import dataclass, field


def verdict(value: float, limit: float, unit: str = "", *, at_most: bool = True, digits: int = 2) -> str:
    """"met", or "missed by X" with X the distance to the limit (in `unit`)."""
    if (value <= limit) if at_most else (value >= limit):
        return "met"
    return f"missed by {abs(value - limit):.{digits}g}{unit}"


def human_bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


@dataclass(frozen=True)
class Row:
    measurement: str
    time: str  # median
    ratio: str = "-"  # vs the floor, paired per repetition
    state: str = "-"  # optimizer state, or peak extra memory
    state_share: str = "-"  # vs dense AdamW's state
    goal: str = ""  # "<goal>: met" / "<goal>: missed by X"


@dataclass(frozen=True)
class Goal:
    goal: str
    measured: str
    status: str


@dataclass
class Report:
    title: str
    header: list[str]
    rows: list[Row] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    phases: list[tuple[str, dict[str, float], dict[str, float]]] = field(default_factory=list)  # name, seconds, extra
    notes: list[str] = field(default_factory=list)
    profile: tuple[str, list[tuple[str, float, int]]] | None = None  # a step's name and its costliest operators

    def markdown(self) -> str:
        lines = [f"# {self.title}", "", *self.header, "", *[f"- {n}" for n in self.notes], "",
                 "| measurement | median | x floor | optimizer state / memory | vs dense AdamW state | goal |",
                 "|---|---:|---:|---:|---:|---|"]
        lines += [f"| {r.measurement} | {r.time} | {r.ratio} | {r.state} | {r.state_share} | {r.goal} |" for r in self.rows]
        lines += ["", "## Goals", "", "| goal | measured | status |", "|---|---|---|"]
        lines += [f"| {g.goal} | {g.measured} | {g.status} |" for g in self.goals]
        if self.phases:
            lines += ["", "## Where a step's time goes (median ms; in brackets: minus the floor's)", "",
                      "| step | forward | backward | optimizer |", "|---|---:|---:|---:|"]
            for name, seconds, extra in self.phases:
                cells = [f"{seconds[k] * 1e3:.1f} ({extra[k] * 1e3:+.1f})" for k in ("forward", "backward", "optimizer")]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
        if self.profile:
            name, operators = self.profile
            lines += ["", f"## Costliest operators of one step: {name} (torch.profiler, self CPU time)", "",
                      "| operator | ms | calls |", "|---|---:|---:|"]
            lines += [f"| {op} | {ms:.2f} | {calls} |" for op, ms, calls in operators]
        return "\n".join(lines) + "\n"
