"""(c) Steady load: with the worker running, deliveries arrive open-loop at a rate below what
(b) measured; the delay from the inbox commit to the processed order is read from the rows."""

from __future__ import annotations

from dataclasses import dataclass

from harness import Cost, latency_line

from .deliveries import SendResult
from .inbox import ProcessedRows
from .stack import Stack


@dataclass
class Steady:
    rate: float
    # The rate as a share of (b)'s.
    load: float
    sent: SendResult
    rows: ProcessedRows
    failed: int
    cost: Cost

    def section(self) -> list[str]:
        failed = [f"    failed in the worker {self.failed:9d}"] if self.failed else []
        return [
            f"(c) steady load, worker running: {self.rate:.1f} deliveries/s offered "
            f"({self.load:.0%} of (b)) for {self.sent.seconds:.1f} s",
            self.sent.accepted_line(),
            f"    shim latency ms      {latency_line(self.sent.latencies)}",
            f"    inbox → processed ms {latency_line(self.rows.delays())}",
            *failed,
            *self.cost.lines(self.sent.accepted, "order"),
        ]


async def run(stack: Stack, *, drained_per_second: float, load: float, seconds: float) -> Steady:
    rate = load * drained_per_second
    deliveries = stack.deliveries(max(1, int(rate * seconds)))
    failed_before = (await stack.inbox.statuses()).get("failed", 0)
    since = await stack.inbox.now()
    async with stack.meter.measure(
        ["client", "edge", *stack.worker_names, "postgres", "redis"]
    ) as cost:
        sent = await stack.senders.send_paced(deliveries, rate)
        counts = await stack.inbox.wait_until_finished(stack.total, stack.processes, within=300)
    rows = await stack.inbox.processed_since(since)
    return Steady(rate, load, sent, rows, counts.get("failed", 0) - failed_before, cost)
