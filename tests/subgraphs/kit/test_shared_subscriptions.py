"""Identical subscriptions on one socket (what the router sends for a shop's dashboards) run
once and reach every subscriber; anything else runs on its own. Over a real WebSocket to the
analytics subgraph (uvicorn + graphql-transport-ws)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect

from subgraphs.kit.graphql.subscriptions import snapshot_key
from subgraphs.kit.pubsub import ledger_channel
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant, add_customer, served_subgraph
from tests.ids import gid

ISSUED = "subscription { loyaltyMetricsUpdated { pointsIssued } }"
MEMBERS = "subscription { loyaltyMetricsUpdated { membersCount } }"
EARN = """
mutation($input: PointsAdjustInput!) { pointsAdjust(input: $input) { userErrors { code } } }
"""


@pytest_asyncio.fixture(loop_scope="session")
async def analytics_url(resources: Resources) -> AsyncIterator[str]:
    async with served_subgraph("analytics", resources) as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def socket(analytics_url: str, tenant: Tenant) -> AsyncIterator[ClientConnection]:
    async with connect(analytics_url, subprotocols=["graphql-transport-ws"]) as opened:  # type: ignore[list-item]
        await opened.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
            )
        )
        assert (await receive(opened))["type"] == "connection_ack"
        yield opened


async def receive(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
    return message


async def subscribe(socket: ClientConnection, id: str, query: str = ISSUED) -> None:
    await socket.send(json.dumps({"id": id, "type": "subscribe", "payload": {"query": query}}))


async def earn(client: SubgraphClient, tenant: Tenant, customer_id: str, points: int) -> None:
    result = await client.execute(
        EARN,
        {
            "input": {
                "customerId": gid("Customer", customer_id),
                "points": points,
                "reason": "review",
                "idempotencyKey": f"shared:{customer_id}:{points}",
            }
        },
        tenant=tenant,
    )
    assert result["data"]["pointsAdjust"]["userErrors"] == []


def issued(message: dict[str, Any]) -> str:
    value: str = message["payload"]["data"]["loyaltyMetricsUpdated"]["pointsIssued"]
    return value


def metrics_key(tenant: Tenant) -> Any:
    channel = ledger_channel(tenant.merchant_id)
    return snapshot_key(channel, "loyalty_metrics", tenant.merchant_id)


async def test_identical_subscriptions_on_one_socket_run_once_and_each_gets_every_update(
    socket: ClientConnection,
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
) -> None:
    customer_id = await add_customer(resources, tenant, points=10)
    for number in range(50):
        await subscribe(socket, str(number))
    current = [await receive(socket) for _ in range(50)]
    assert sorted(message["id"] for message in current) == sorted(str(n) for n in range(50))
    assert {issued(message) for message in current} == {"10"}
    # One stream, so one read to start with: each running on its own read 50 times.
    assert resources.fanout.computations(metrics_key(tenant)) == 1

    await earn(points_client, tenant, customer_id, 5)
    updates = [await receive(socket) for _ in range(50)]
    assert sorted(update["id"] for update in updates) == sorted(str(n) for n in range(50))
    assert {issued(update) for update in updates} == {"15"}
    assert resources.fanout.computations(metrics_key(tenant)) == 2


async def test_a_late_subscriber_gets_the_latest_result_then_the_next_ones(
    socket: ClientConnection,
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
) -> None:
    customer_id = await add_customer(resources, tenant, points=10)
    await subscribe(socket, "early")
    assert issued(await receive(socket)) == "10"
    await earn(points_client, tenant, customer_id, 4)
    assert issued(await receive(socket)) == "14"

    await subscribe(socket, "late")
    joined = await receive(socket)
    assert (joined["id"], issued(joined)) == ("late", "14")

    await earn(points_client, tenant, customer_id, 6)
    updates = {message["id"]: issued(message) for message in [await receive(socket) for _ in "ab"]}
    assert updates == {"early": "20", "late": "20"}


async def test_one_subscriber_leaving_leaves_the_others_and_the_last_stops_the_stream(
    socket: ClientConnection,
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
) -> None:
    customer_id = await add_customer(resources, tenant, points=10)
    await subscribe(socket, "a")
    await subscribe(socket, "b")
    assert {(await receive(socket))["id"], (await receive(socket))["id"]} == {"a", "b"}

    await socket.send(json.dumps({"id": "a", "type": "complete"}))
    await earn(points_client, tenant, customer_id, 3)
    update = await receive(socket)
    assert (update["id"], issued(update)) == ("b", "13")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(socket.recv(), timeout=0.5)  # nothing for "a" any more

    await socket.send(json.dumps({"id": "b", "type": "complete"}))
    for _ in range(50):
        if metrics_key(tenant) not in resources.fanout.active_keys():
            break
        await asyncio.sleep(0.05)
    assert metrics_key(tenant) not in resources.fanout.active_keys()

    # The id is free again, and a new subscription starts a new stream with a fresh read.
    await subscribe(socket, "a")
    again = await receive(socket)
    assert (again["id"], issued(again)) == ("a", "13")


async def test_different_selections_are_not_shared(
    socket: ClientConnection, resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, points=10)
    await subscribe(socket, "issued", ISSUED)
    await subscribe(socket, "members", MEMBERS)
    messages = {
        message["id"]: message for message in [await receive(socket), await receive(socket)]
    }
    assert messages["issued"]["payload"]["data"] == {
        "loyaltyMetricsUpdated": {"pointsIssued": "10"}
    }
    assert messages["members"]["payload"]["data"] == {
        "loyaltyMetricsUpdated": {"membersCount": "1"}
    }


async def test_each_of_several_identical_invalid_subscriptions_gets_its_error(
    socket: ClientConnection,
) -> None:
    invalid = "subscription { loyaltyMetricsUpdated { noSuchField } }"
    await subscribe(socket, "x", invalid)
    await subscribe(socket, "y", invalid)
    errors = [await receive(socket), await receive(socket)]
    assert sorted((error["id"], error["type"]) for error in errors) == [
        ("x", "error"),
        ("y", "error"),
    ]
    # Both ids are free again.
    await subscribe(socket, "x")
    assert (await receive(socket))["id"] == "x"


async def test_queries_over_the_socket_each_run_on_their_own(
    socket: ClientConnection, resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, points=10)
    query = "{ _service { __typename } }"
    await subscribe(socket, "q1", query)
    await subscribe(socket, "q2", query)
    messages = [await receive(socket) for _ in range(4)]
    by_id: dict[str, list[str]] = {}
    for message in messages:
        by_id.setdefault(message["id"], []).append(message["type"])
    assert by_id == {"q1": ["next", "complete"], "q2": ["next", "complete"]}
