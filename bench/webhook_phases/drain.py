"""(b) A fresh worker process drains the inbox that (a) filled. Its rate counts from the first
to the last order processed, so the worker's start-up is left out (and shown beside)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness import Cost, latency_line

from .inbox import ProcessedRows
from .stack import Stack


@dataclass
class Drain:
    rows: ProcessedRows
    failed: int
    # From starting the worker to the last order processed.
    wall_seconds: float
    # Orders finished while metered: after the worker had finished its first.
    metered: int
    cost: Cost
    workers: int

    def section(self) -> list[str]:
        processed = len(self.rows.processed)
        return [
            f"(b) {self.workers} fresh worker process(es) drain the inbox: {processed} done, "
            f"{self.failed} failed, "
            f"{self.wall_seconds:.1f} s from process start",
            f"    processed orders/s   {self.rows.per_second():9.1f}"
            f"   (first to last processed; {processed / self.wall_seconds:.1f}/s "
            "with the worker's start-up)",
            f"    handler ms           {latency_line(self.rows.durations)}",
            *self.cost.lines(self.metered, "order"),
        ]


async def run(stack: Stack) -> Drain:
    """Leaves the workers running."""
    started = time.perf_counter()
    stack.start_workers()
    counts = await stack.inbox.wait_until_finished(1, stack.processes, within=120)
    first = counts.get("done", 0) + counts.get("failed", 0)
    async with stack.meter.measure([*stack.worker_names, "postgres", "redis"]) as cost:
        counts = await stack.inbox.wait_until_finished(stack.total, stack.processes, within=300)
    wall_seconds = time.perf_counter() - started
    rows = await stack.inbox.processed_since()
    failed = counts.get("failed", 0)
    return Drain(rows, failed, wall_seconds, stack.total - first, cost, stack.workers)
