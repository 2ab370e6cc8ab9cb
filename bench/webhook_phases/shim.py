"""(a) The shim alone: signed deliveries as fast as the shim answers them, sent by wrk
(``replay``), no worker running; every delivery must be accepted and be a pending row in the
inbox."""

from __future__ import annotations

from dataclasses import dataclass

from harness import Cost

from .deliveries import SendResult
from .replay import replay
from .stack import Stack


@dataclass
class Shim:
    sent: SendResult
    # wrk's latency percentiles, in milliseconds.
    latency_ms: dict[str, float]
    cost: Cost
    concurrency: int

    def section(self) -> list[str]:
        sent = self.sent
        latency = "  ".join(
            f"p{percent} {self.latency_ms[percent]:.1f}"
            for percent in ("50", "90", "99")
            if percent in self.latency_ms
        )
        return [
            f"(a) shim alone (no worker): {sent.accepted} signed orders/paid deliveries from "
            f"wrk, {self.concurrency} connections, {sent.seconds:.1f} s first to last stored",
            sent.accepted_line(),
            f"    latency ms           {latency}",
            *self.cost.lines(sent.accepted, "delivery"),
        ]


async def run(stack: Stack, deliveries: int) -> Shim:
    batch = stack.deliveries(deliveries)
    # "client" is wrk here: a child this process waited for (harness.meters).
    async with stack.meter.measure(["client", "edge", "postgres", "redis"]) as cost:
        sent, latency = await replay(
            batch,
            stack.base_url,
            stack.inbox,
            connections=len(stack.senders.clients),
            scratch=stack.scratch,
        )
    counts = await stack.inbox.statuses()
    if counts != {"pending": stack.total} or sent.rejected:
        raise RuntimeError(
            f"expected {stack.total} pending rows, found {counts}; {sent.first_error or ''}"
        )
    return Shim(sent, latency, cost, len(stack.senders.clients))
