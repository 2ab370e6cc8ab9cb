"""customerPointsUpdated fanned out by customer: one read per change of that customer's
ledger, pushed to their subscribers only (real WebSocket, Postgres and Redis)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection

from subgraphs.kit.graphql.subscriptions import snapshot_key
from subgraphs.kit.pubsub import ledger_channel
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant, add_customer, served_subgraph
from tests.ids import gid
from tests.subgraphs.analytics.test_live_fanout import earn
from tests.subgraphs.analytics.test_live_metrics import next_message, open_socket

WIDGET = "subscription($id: ID!) { customerPointsUpdated(customerId: $id) { id pointsBalance } }"
PER_CUSTOMER = 10


@pytest_asyncio.fixture(loop_scope="session")
async def points_url(resources: Resources) -> AsyncIterator[str]:
    async with served_subgraph("points", resources) as url:
        yield url


async def widgets(url: str, tenant: Tenant, customer_id: str) -> ClientConnection:
    socket = await open_socket(url, {"Authorization": f"Bearer {tenant.token}"})
    assert (await next_message(socket))["type"] == "connection_ack"
    for number in range(PER_CUSTOMER):
        payload = {"query": WIDGET, "variables": {"id": gid("Customer", customer_id)}}
        await socket.send(json.dumps({"id": str(number), "type": "subscribe", "payload": payload}))
    return socket


async def test_a_change_is_read_once_and_reaches_only_that_customers_widgets(
    points_url: str, points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    alice = await add_customer(resources, tenant, points=10)
    bob = await add_customer(resources, tenant, points=20)
    channel = ledger_channel(tenant.merchant_id)
    alice_key = snapshot_key(channel, "customer_points", tenant.merchant_id, (alice,))
    bob_key = snapshot_key(channel, "customer_points", tenant.merchant_id, (bob,))
    alices, bobs = await widgets(points_url, tenant, alice), await widgets(points_url, tenant, bob)
    try:
        first = [await next_message(alices) for _ in range(PER_CUSTOMER)]
        assert {m["payload"]["data"]["customerPointsUpdated"]["id"] for m in first} == {
            gid("Customer", alice)
        }
        first = [await next_message(bobs) for _ in range(PER_CUSTOMER)]
        assert {m["payload"]["data"]["customerPointsUpdated"]["id"] for m in first} == {
            gid("Customer", bob)
        }
        alice_reads = resources.fanout.computations(alice_key)
        bob_reads = resources.fanout.computations(bob_key)

        await earn(points_client, tenant, bob, 5)
        updates = [await next_message(bobs) for _ in range(PER_CUSTOMER)]
        assert {(m["payload"]["data"]["customerPointsUpdated"]["id"]) for m in updates} == {
            gid("Customer", bob)
        }
        assert {
            m["payload"]["data"]["customerPointsUpdated"]["pointsBalance"] for m in updates
        } == {"25"}
        assert resources.fanout.computations(bob_key) == bob_reads + 1
        assert resources.fanout.computations(alice_key) == alice_reads  # not read for Bob
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(alices.recv(), timeout=0.5)
    finally:
        await alices.close()
        await bobs.close()
