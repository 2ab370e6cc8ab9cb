"""(a) The shim alone: signed deliveries as fast as the senders get their 200s, no worker
running; every delivery must be accepted and be a pending row in the inbox."""

from __future__ import annotations

from dataclasses import dataclass

from harness import Cost, latency_line

from .deliveries import SendResult
from .stack import Stack


@dataclass
class Shim:
    sent: SendResult
    cost: Cost
    concurrency: int

    def section(self) -> list[str]:
        sent = self.sent
        return [
            f"(a) shim alone (no worker): {sent.accepted + sent.rejected} signed orders/paid "
            f"deliveries, concurrency {self.concurrency}, {sent.seconds:.1f} s",
            sent.accepted_line(),
            f"    latency ms           {latency_line(sent.latencies)}",
            *self.cost.lines(sent.accepted, "delivery"),
        ]


async def run(stack: Stack, deliveries: int) -> Shim:
    batch = stack.deliveries(deliveries)
    async with stack.meter.measure(["client", "edge", "postgres", "redis"]) as cost:
        sent = await stack.senders.send_all(batch)
    counts = await stack.inbox.statuses()
    if counts != {"pending": stack.total}:
        raise RuntimeError(f"expected {stack.total} pending rows, found {counts}")
    return Shim(sent, cost, len(stack.senders.clients))
