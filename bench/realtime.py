"""Live dashboards: N subscribers of one shop through the router, then one ledger change, in
rounds; how many receive the update, and how long after the mutation's answer.

    .venv/bin/python bench/realtime.py [--subscribers 1000] [--rounds 5]

(a) the shop: `loyalnest seed`'s generator (cli/generated_shop.py), small by default: the
    metrics are one query per event whatever the shop's size, so it sizes only that query.
(b) the four subgraphs and the router as processes (api_phases/federation.py).
(c) --subscribers WebSockets (graphql-transport-ws) to the router, each subscribing to
    `loyaltyMetricsUpdated` with the shop's session token; each must first get the current
    metrics. Then --rounds times: one `pointsAdjust` through the router, and every subscriber
    must get the new `pointsIssued`. Latency is from the mutation's answer to each
    subscriber's update (an update that arrives before the answer counts as 0); an error
    message, a closed socket or no update within --timeout counts as missed.
Issue 12's goal is printed next to what was measured: every subscriber gets every update, p99
<= 300 ms, 0 errors. The floor (TPC-B) is measured as in every scenario, for the record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
from api_phases.federation import Federation, start_federation
from harness import (
    Bench,
    add_shop_arguments,
    latency_line,
    percentile,
    run,
    scenario_parser,
    serve_generated_shop,
)
from websockets.asyncio.client import ClientConnection, connect

# The project's code: these paths move with it.

APP_SECRET = "bench-app-secret-" + "x" * 32
SUBSCRIPTION = "subscription { loyaltyMetricsUpdated { pointsIssued } }"
ADJUST = """
mutation Adjust($input: PointsAdjustInput!) {
  pointsAdjust(input: $input) { transaction { id } userErrors { code message } }
}
"""
FIRST_CUSTOMER = "{ customers(first: 1) { nodes { id } } }"
POINTS_PER_ROUND = 7


@dataclass
class Subscriber:
    socket: ClientConnection
    # pointsIssued as last received, and when (time.monotonic()).
    updates: asyncio.Queue[tuple[str, float]] = field(default_factory=asyncio.Queue)
    failure: str | None = None


async def _listen(subscriber: Subscriber) -> None:
    try:
        async for raw in subscriber.socket:
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") == "next" and not message["payload"].get("errors"):
                issued = message["payload"]["data"]["loyaltyMetricsUpdated"]["pointsIssued"]
                subscriber.updates.put_nowait((issued, time.monotonic()))
            elif message.get("type") != "pong":
                subscriber.failure = json.dumps(message)[:300]
    except Exception as error:  # a closed socket is a missed update, reported, not a crash
        subscriber.failure = f"{type(error).__name__}: {error}"[:300]


async def _subscribe(stack: AsyncExitStack, federation: Federation, token: str) -> Subscriber:
    socket = await stack.enter_async_context(
        connect(
            federation.router_ws_url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            open_timeout=60,
            ping_interval=None,
        )
    )
    await socket.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    ack = json.loads(await asyncio.wait_for(socket.recv(), 60))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"the router did not acknowledge a socket: {ack}")
    await socket.send(
        json.dumps({"id": "metrics", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
    )
    return Subscriber(socket)


async def _graphql(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> Any:
    response = await client.post(
        "",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
    )
    answer = response.json()
    if response.status_code != 200 or answer.get("errors"):
        raise RuntimeError(f"the router answered {response.status_code}: {str(answer)[:500]}")
    return answer["data"]


async def _collect(
    subscribers: list[Subscriber], expected: str, since: float, within: float
) -> tuple[list[float], list[str]]:
    """Each subscriber's latency for the update carrying ``expected``, and what was missed."""

    async def one(subscriber: Subscriber) -> float | str:
        deadline = time.monotonic() + within
        while True:
            try:
                issued, at = await asyncio.wait_for(
                    subscriber.updates.get(), max(deadline - time.monotonic(), 0.001)
                )
            except TimeoutError:
                return subscriber.failure or f"no update within {within:.0f} s"
            if issued == expected:
                return max(at - since, 0.0)

    outcomes = await asyncio.gather(*(one(subscriber) for subscriber in subscribers))
    latencies = [outcome for outcome in outcomes if isinstance(outcome, float)]
    missed = [outcome for outcome in outcomes if isinstance(outcome, str)]
    return latencies, missed


async def scenario(bench: Bench, args: argparse.Namespace) -> None:
    report = bench.report
    shop = await serve_generated_shop(bench, args, app_secret=APP_SECRET)
    token = shop.token
    report.add([f"(a) shop: {shop.made.customers} customers, {shop.made.orders} orders"])
    federation = await start_federation(bench.processes, shop.env)

    async with (
        AsyncExitStack() as stack,
        httpx.AsyncClient(base_url=federation.router_url, timeout=30) as client,
    ):
        opened = time.monotonic()
        subscribers = []
        # Opened a batch at a time: 1,000 handshakes at once would measure the accept queue.
        for start in range(0, args.subscribers, 50):
            batch = min(50, args.subscribers - start)
            subscribers += await asyncio.gather(
                *(_subscribe(stack, federation, token) for _ in range(batch))
            )
        listeners = [asyncio.create_task(_listen(subscriber)) for subscriber in subscribers]
        stack.callback(lambda: [listener.cancel() for listener in listeners])
        first = await asyncio.gather(
            *(asyncio.wait_for(each.updates.get(), args.timeout) for each in subscribers),
            return_exceptions=True,
        )
        current = {value[0] for value in first if isinstance(value, tuple)}
        started = sum(isinstance(value, tuple) for value in first)
        report.add(
            [
                f"(c) {args.subscribers} subscribers through the router, one token: "
                f"{started} got the current metrics, {time.monotonic() - opened:.1f} s to open"
            ]
        )
        if len(current) != 1:
            raise RuntimeError(f"subscribers disagree on the current metrics: {current}")
        issued = int(current.pop())
        customer = (await _graphql(client, token, FIRST_CUSTOMER))["customers"]["nodes"][0]["id"]

        lines, all_latencies, all_missed = [], [], 0
        for round_number in range(1, args.rounds + 1):
            data = await _graphql(
                client,
                token,
                ADJUST,
                input={
                    "customerId": customer,
                    "points": POINTS_PER_ROUND,
                    "reason": "bench",
                    "idempotencyKey": f"bench-realtime:{uuid.uuid4()}",
                },
            )
            answered = time.monotonic()
            if data["pointsAdjust"]["userErrors"]:
                raise RuntimeError(f"pointsAdjust refused: {data['pointsAdjust']['userErrors']}")
            issued += POINTS_PER_ROUND
            latencies, missed = await _collect(subscribers, str(issued), answered, args.timeout)
            all_latencies += latencies
            all_missed += len(missed)
            first_ms = min(latencies, default=0.0) * 1000
            lines.append(
                f"    round {round_number}: {len(latencies)}/{len(subscribers)} received, "
                f"the first after {first_ms:.1f} ms"
            )
            lines.append("    " + latency_line(latencies))
            if missed:
                lines.append(f"    missed {len(missed)}, e.g. {missed[0]}")
            bench.processes.check()
            await asyncio.sleep(args.pause)
        report.add([f"(d) {args.rounds} rounds of one pointsAdjust each", *lines])

    total = args.subscribers * args.rounds
    report.goal("updates received ÷ sent", (total - all_missed) / total, at_least=1.0)
    if all_latencies:
        report.goal(
            "p99 update latency", percentile(all_latencies, 0.99) * 1000, at_most=300, unit=" ms"
        )


def parser() -> argparse.ArgumentParser:
    options = scenario_parser(__doc__)
    options.add_argument("--subscribers", type=int, default=1000, help="WebSockets, one shop")
    options.add_argument("--rounds", type=int, default=5, help="ledger changes, one at a time")
    options.add_argument("--pause", type=float, default=1.0, help="seconds between rounds")
    options.add_argument("--timeout", type=float, default=10.0, help="for each update")
    add_shop_arguments(options, customers=200, orders=600)
    return options


if __name__ == "__main__":
    run("realtime", parser(), scenario, floor="(e)")
