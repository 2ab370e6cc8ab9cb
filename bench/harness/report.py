"""What a benchmark prints: a header, the scenario's sections, the floor, and each rate the
scenario names as a ratio to the floor measured in the same run."""

from __future__ import annotations

import json
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .floor import Floor

# Where a run also writes its goals and ratios as JSON (set by bench/all.py).
RESULTS_ENV = "LOYALNEST_BENCH_RESULTS"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def latency_line(seconds: list[float]) -> str:
    """p50 … max and the mean, in milliseconds, of durations in seconds."""
    ms = [value * 1000 for value in seconds]
    if not ms:
        return "n/a"
    return (
        f"p50 {percentile(ms, 0.5):.1f}  p95 {percentile(ms, 0.95):.1f}  "
        f"p99 {percentile(ms, 0.99):.1f}  max {max(ms):.1f}  (mean {statistics.fmean(ms):.1f})"
    )


@dataclass
class Report:
    title: str
    server: str
    # The floor's section label, after the scenario's: "(b)".
    floor_label: str
    version: str = ""
    sections: list[list[str]] = field(default_factory=list)
    # label -> per second, printed as "ratio <label> ÷ TPC-B TPS".
    rates: dict[str, float] = field(default_factory=dict)
    # label -> the least its ratio to TPC-B should be (issue 12's goals), judged once the
    # floor is measured.
    ratio_goals: dict[str, float] = field(default_factory=dict)
    # Printed to stderr after the report.
    notes: list[str] = field(default_factory=list)
    # Ratios between the scenario's own measurements, each next to its goal.
    goals: list[tuple[str, str, str, bool]] = field(default_factory=list)
    floor: Floor | None = None

    def add(self, lines: list[str]) -> None:
        """A section, printed after a blank line."""
        self.sections.append(lines)

    def ratio(self, label: str, rate: float, *, at_least: float | None = None) -> None:
        self.rates[label] = rate
        if at_least is not None:
            self.ratio_goals[label] = at_least

    def _judge_ratios(self) -> None:
        if self.floor is None or not self.floor.tps:
            return
        for label, least in self.ratio_goals.items():
            self.goal(f"{label} ÷ TPC-B TPS", self.rates[label] / self.floor.tps, at_least=least)
        self.ratio_goals = {}

    def goal(
        self,
        label: str,
        value: float,
        *,
        at_least: float | None = None,
        at_most: float | None = None,
        unit: str = "",
    ) -> None:
        """A measurement of the run next to its goal (met or not), printed in a table."""
        met = (at_least is None or value >= at_least) and (at_most is None or value <= at_most)
        goal = f">= {at_least:g}{unit}" if at_least is not None else f"<= {at_most:g}{unit}"
        self.goals.append((label, f"{value:.3g}{unit}", goal, met))

    def print(self) -> None:
        self._judge_ratios()
        print(f"{self.title} — PostgreSQL {self.version}, {self.server}")
        print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        sections = list(self.sections)
        if self.floor is not None:
            sections.append(self.floor.lines(self.floor_label))
        for section in sections:
            print()
            for line in section:
                print(line)
        if self.floor is not None and self.rates:
            print()
            width = max(len(label) for label in self.rates)
            for label, rate in self.rates.items():
                print(f"ratio {label:<{width}} ÷ TPC-B TPS = {self.floor.ratio(rate)}")
        if self.goals:
            print()
            width = max(len(label) for label, *_ in self.goals)
            for label, value, goal, met in self.goals:
                verdict = "met" if met else "NOT met"
                print(f"goal  {label:<{width}} {value:>10}   (goal {goal}: {verdict})")
        for note in self.notes:
            print(note, file=sys.stderr)
        if results := os.environ.get(RESULTS_ENV):
            self.save(Path(results))

    def save(self, path: Path) -> None:
        """The goals and ratios as JSON, for bench/all.py's one table."""
        floor = self.floor
        path.write_text(
            json.dumps(
                {
                    "title": self.title,
                    "goals": [
                        {"label": label, "value": value, "goal": goal, "met": met}
                        for label, value, goal, met in self.goals
                    ],
                    "ratios": {label: floor.ratio(rate) for label, rate in self.rates.items()}
                    if floor is not None
                    else {},
                }
            )
        )
