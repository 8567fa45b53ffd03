"""Markdown tables of every benchmark; the speed report: its measurements, the goals' verdicts,
where time goes."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

RULES = {"l": "---", "r": "---:"}  # left-aligned text, right-aligned numbers


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str) -> list[str]:
    """A markdown table's lines; `align` has one letter per column: "l" (text) or "r" (numbers)."""
    if len(align) != len(header) or set(align) - set(RULES):
        raise ValueError(f"align {align!r} must have one of {sorted(RULES)} per column, {len(header)} columns")

    def line(cells: Iterable[object]) -> str:
        return "| " + " | ".join(map(str, cells)) + " |"

    return [line(header), "|" + "|".join(RULES[a] for a in align) + "|", *map(line, rows)]


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
        lines = [f"# {self.title}", "", *self.header, "", *[f"- {n}" for n in self.notes], ""]
        lines += markdown_table(["measurement", "median", "x floor", "optimizer state / memory", "vs dense AdamW state",
                                 "goal"], [[r.measurement, r.time, r.ratio, r.state, r.state_share, r.goal]
                                           for r in self.rows], "lrrrrl")
        lines += ["", "## Goals", ""]
        lines += markdown_table(["goal", "measured", "status"], [[g.goal, g.measured, g.status] for g in self.goals],
                                "lll")
        if self.phases:
            lines += ["", "## Where a step's time goes (median ms; in brackets: minus the floor's)", ""]
            lines += markdown_table(["step", "forward", "backward", "optimizer"],
                                    [[name, *(f"{seconds[k] * 1e3:.1f} ({extra[k] * 1e3:+.1f})"
                                              for k in ("forward", "backward", "optimizer"))]
                                     for name, seconds, extra in self.phases], "lrrr")
        if self.profile:
            name, operators = self.profile
            lines += ["", f"## Costliest operators of one step: {name} (torch.profiler, self CPU time)", ""]
            lines += markdown_table(["operator", "ms", "calls"],
                                    [[op, f"{ms:.2f}", calls] for op, ms, calls in operators], "lrr")
        return "\n".join(lines) + "\n"
