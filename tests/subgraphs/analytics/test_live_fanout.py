"""Live metrics fanned out: one read per ledger change per shop, whatever the number of
dashboards in the process (``kit.fanout``), over a real WebSocket, Postgres and Redis."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection

from subgraphs.kit.graphql.subscriptions import snapshot_key
from subgraphs.kit.pubsub import ledger_channel
from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.ids import gid
from tests.subgraphs.analytics.test_live_metrics import (
    EARN,
    SUBSCRIPTION,
    analytics_url,  # noqa: F401 (the fixture)
    next_message,
    open_socket,
)

SOCKETS = 4
PER_SOCKET = 50


def metrics_reads(counter: StatementCounter) -> int:
    """The ledger half of a metrics read (its other half counts members)."""
    return sum(1 for s in counter.statements if "FILTER (WHERE" in s and "kind" in s)


async def subscribe_many(url: str, tenant: Tenant, count: int) -> ClientConnection:
    socket = await open_socket(url, {"Authorization": f"Bearer {tenant.token}"})
    assert (await next_message(socket))["type"] == "connection_ack"
    for number in range(count):
        await socket.send(
            json.dumps({"id": str(number), "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
    return socket


async def receive(socket: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [await next_message(socket) for _ in range(count)]


async def earn(client: SubgraphClient, tenant: Tenant, customer_id: str, points: int) -> None:
    result = await client.execute(
        EARN,
        {
            "input": {
                "customerId": gid("Customer", customer_id),
                "points": points,
                "reason": "review",
                "idempotencyKey": f"fan:{customer_id}:{points}",
            }
        },
        tenant=tenant,
    )
    assert result["data"]["pointsAdjust"]["userErrors"] == []


async def channel_subscribers(resources: Resources, channel: str) -> int:
    counts = await resources.redis.pubsub_numsub(channel)
    return int(counts[0][1])


async def wait_until(predicate: Any, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not await predicate():
            await asyncio.sleep(0.02)


async def test_one_read_per_ledger_change_for_every_dashboard_of_a_shop(
    analytics_url: str,  # noqa: F811
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    customer_id = await add_customer(resources, tenant, points=10)
    channel = ledger_channel(tenant.merchant_id)
    key = snapshot_key(channel, "loyalty_metrics", tenant.merchant_id)
    sockets = [await subscribe_many(analytics_url, tenant, PER_SOCKET) for _ in range(SOCKETS)]
    try:
        current = await asyncio.gather(*(receive(socket, PER_SOCKET) for socket in sockets))
        assert {m["type"] for messages in current for m in messages} == {"next"}
        assert key in resources.fanout.active_keys()
        # One Redis subscription for the 200 of them.
        assert await channel_subscribers(resources, channel) == 1

        before_reads = metrics_reads(count_statements)
        before_computations = resources.fanout.computations(key)
        await earn(points_client, tenant, customer_id, 15)
        updates = await asyncio.gather(*(receive(socket, PER_SOCKET) for socket in sockets))

        assert metrics_reads(count_statements) - before_reads == 1
        assert resources.fanout.computations(key) - before_computations == 1
        issued = {
            m["payload"]["data"]["loyaltyMetricsUpdated"]["pointsIssued"]
            for messages in updates
            for m in messages
        }
        assert issued == {"25"}
        assert sum(len({m["id"] for m in messages}) for messages in updates) == SOCKETS * PER_SOCKET
    finally:
        for socket in sockets:
            await socket.close()

    # The last dashboard gone, the listener stops: no hub, no task, no Redis subscription.
    async def stopped() -> bool:
        return key not in resources.fanout.active_keys() and (
            await channel_subscribers(resources, channel) == 0
        )

    await wait_until(stopped)
    hub_tasks = [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "_Hub._run"
    ]
    assert hub_tasks == []


async def test_each_shop_gets_only_its_own_numbers(
    analytics_url: str,  # noqa: F811
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    mine = await add_customer(resources, tenant, points=10)
    theirs = await add_customer(resources, other_tenant, points=1000)
    my_socket = await subscribe_many(analytics_url, tenant, 20)
    their_socket = await subscribe_many(analytics_url, other_tenant, 20)
    try:
        my_first = await receive(my_socket, 20)
        their_first = await receive(their_socket, 20)
        assert {
            m["payload"]["data"]["loyaltyMetricsUpdated"]["pointsIssued"] for m in my_first
        } == {"10"}
        assert {
            m["payload"]["data"]["loyaltyMetricsUpdated"]["pointsIssued"] for m in their_first
        } == {"1000"}

        await earn(points_client, other_tenant, theirs, 5)
        their_update = await receive(their_socket, 20)
        assert {
            m["payload"]["data"]["loyaltyMetricsUpdated"]["pointsIssued"] for m in their_update
        } == {"1005"}
        await earn(points_client, tenant, mine, 3)
        my_update = await receive(my_socket, 20)
        # Mine got nothing of theirs: the next message is my own change.
        assert {
            m["payload"]["data"]["loyaltyMetricsUpdated"]["pointsIssued"] for m in my_update
        } == {"13"}
    finally:
        await my_socket.close()
        await their_socket.close()
