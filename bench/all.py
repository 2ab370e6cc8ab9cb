"""Every benchmark, one after the other, then one table: each goal next to what was measured,
and each rate as a ratio to the TPC-B floor its own run measured.

    .venv/bin/python bench/all.py [--quick] [--only api,realtime]

Each scenario runs as its own process (its own embedded Postgres, Redis and processes, all
gone when it ends) with its output shown as it comes; a scenario that fails is reported in
the table and the others still run. `--quick` shortens each (fewer rows, seconds and
subscribers) for a smoke run; without it they run as issue 12 measures them (a 50,000-
customer shop for api.py). Benchmarks never run as tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.report import RESULTS_ENV

BENCH_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Scenario:
    name: str
    script: str
    # Options for issue 12's measurement, and for a quick smoke run.
    full: tuple[str, ...]
    quick: tuple[str, ...]


SCENARIOS = (
    Scenario(
        "api",
        "api.py",
        ("--customers", "50000", "--orders", "250000"),
        ("--customers", "2000", "--orders", "6000", "--seconds", "3", "--warmup", "1"),
    ),
    Scenario(
        "read_cpu",
        "read_cpu.py",
        ("--customers", "50000", "--orders", "250000"),
        ("--customers", "2000", "--orders", "6000", "--requests", "400", "--rounds", "2"),
    ),
    Scenario("realtime", "realtime.py", (), ("--subscribers", "200", "--rounds", "3")),
    Scenario("ledger", "ledger.py", (), ("--seconds", "4")),
    Scenario("webhooks", "webhooks.py", (), ("--deliveries", "500", "--steady-seconds", "0")),
    Scenario(
        "rfm",
        "rfm.py",
        ("--customers", "50000", "--orders", "250000"),
        ("--customers", "2000", "--orders", "10000", "--passes", "2"),
    ),
    Scenario("imports-smile", "imports.py", (), ("--rows", "5000", "--existing", "1000")),
    Scenario(
        "imports-loyaltylion",
        "imports.py",
        ("--source", "loyaltylion"),
        ("--source", "loyaltylion", "--rows", "5000", "--existing", "1000"),
    ),
)
QUICK_FLOOR = ("--pgbench-seconds", "3")


def run(scenario: Scenario, quick: bool, scratch: Path) -> tuple[dict[str, object] | None, float]:
    results = scratch / f"{scenario.name}.json"
    argv = [
        sys.executable,
        str(BENCH_DIR / scenario.script),
        *(scenario.quick + QUICK_FLOOR if quick else scenario.full),
    ]
    print(f"\n=== {scenario.name}: {' '.join(argv[1:])}", flush=True)
    started = time.monotonic()
    finished = subprocess.run(argv, env={**os.environ, RESULTS_ENV: str(results)}, check=False)
    took = time.monotonic() - started
    if finished.returncode != 0 or not results.exists():
        return None, took
    loaded: dict[str, object] = json.loads(results.read_text())
    return loaded, took


def table(outcomes: list[tuple[Scenario, dict[str, object] | None, float]]) -> list[str]:
    rows: list[tuple[str, str, str, str, str]] = []
    for scenario, result, took in outcomes:
        if result is None:
            rows.append((scenario.name, "(the run failed: see its output above)", "", "", ""))
            continue
        for goal in result["goals"]:  # type: ignore[attr-defined]
            verdict = "met" if goal["met"] else "NOT met"
            rows.append((scenario.name, goal["label"], goal["value"], goal["goal"], verdict))
        judged = {goal["label"] for goal in result["goals"]}  # type: ignore[attr-defined]
        for label, ratio in result["ratios"].items():  # type: ignore[attr-defined]
            if f"{label} ÷ TPC-B TPS" not in judged:  # already a row, beside its goal
                rows.append((scenario.name, f"{label} ÷ TPC-B TPS", ratio, "", ""))
        rows.append((scenario.name, "run time", f"{took:.0f} s", "", ""))
    header = ("benchmark", "measurement", "value", "goal", "")
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(5)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    for row in rows:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return lines


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    options.add_argument("--quick", action="store_true", help="a short smoke run of each")
    options.add_argument(
        "--only",
        default="",
        help="comma-separated scenario names: " + ", ".join(s.name for s in SCENARIOS),
    )
    args = options.parse_args()
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - {scenario.name for scenario in SCENARIOS}
    if unknown:
        options.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="loyalnest-bench-all-") as scratch:
        for scenario in SCENARIOS:
            if wanted and scenario.name not in wanted:
                continue
            result, took = run(scenario, args.quick, Path(scratch))
            outcomes.append((scenario, result, took))
    print("\n=== every benchmark, one table (ratios only mean something within one run)")
    for line in table(outcomes):
        print(line)
    if any(result is None for _, result, _ in outcomes):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
