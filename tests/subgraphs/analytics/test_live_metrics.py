"""loyaltyMetricsUpdated over a real WebSocket (uvicorn + graphql-transport-ws)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant, add_customer, served_subgraph
from tests.ids import gid

SUBSCRIPTION = "subscription { loyaltyMetricsUpdated { membersCount pointsIssued pointsRedeemed } }"
EARN = """
mutation($input: PointsAdjustInput!) { pointsAdjust(input: $input) { userErrors { code } } }
"""


@pytest_asyncio.fixture(loop_scope="session")
async def analytics_url(resources: Resources) -> AsyncIterator[str]:
    async with served_subgraph("analytics", resources) as url:
        yield url


async def open_socket(url: str, payload: dict[str, Any]) -> ClientConnection:
    socket = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    return socket


async def next_message(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
    return message


async def test_pushes_current_metrics_then_each_ledger_change(
    analytics_url: str, points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=100)
    socket = await open_socket(analytics_url, {"Authorization": f"Bearer {tenant.token}"})
    try:
        assert (await next_message(socket))["type"] == "connection_ack"
        await socket.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
        first = await next_message(socket)
        assert first["payload"]["data"]["loyaltyMetricsUpdated"] == {
            "membersCount": "1",
            "pointsIssued": "100",
            "pointsRedeemed": "0",
        }

        earned = await points_client.execute(
            EARN,
            {
                "input": {
                    "customerId": gid("Customer", customer_id),
                    "points": 30,
                    "reason": "review",
                    "idempotencyKey": "r-1",
                }
            },
            tenant=tenant,
        )
        assert earned["data"]["pointsAdjust"]["userErrors"] == []

        update = await next_message(socket)
        assert update["id"] == "1"
        assert update["payload"]["data"]["loyaltyMetricsUpdated"]["pointsIssued"] == "130"
    finally:
        await socket.close()


async def test_other_merchants_changes_are_not_pushed(
    analytics_url: str,
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    others_customer = await add_customer(resources, other_tenant)
    socket = await open_socket(analytics_url, {"Authorization": f"Bearer {tenant.token}"})
    try:
        await next_message(socket)  # ack
        await socket.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )
        await next_message(socket)  # current metrics
        await points_client.execute(
            EARN,
            {
                "input": {
                    "customerId": others_customer,
                    "points": 5,
                    "reason": "x",
                    "idempotencyKey": "o-1",
                }
            },
            tenant=other_tenant,
        )
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(socket.recv(), timeout=1.0)
    finally:
        await socket.close()


@pytest.mark.parametrize("payload", [{}, {"Authorization": "Bearer not-a-jwt"}])
async def test_a_socket_without_a_valid_token_is_refused(
    analytics_url: str, payload: dict[str, Any]
) -> None:
    socket = await open_socket(analytics_url, payload)
    with pytest.raises(ConnectionClosed) as closed:
        await next_message(socket)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def test_one_socket_carries_more_than_a_hundred_subscriptions(
    analytics_url: str, points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    # The router puts every dashboard of one token on one upstream socket: past Strawberry's
    # default of 100, the 101st and later would be refused.
    subscriptions = 150
    customer_id = await add_customer(resources, tenant, points=10)
    socket = await open_socket(analytics_url, {"Authorization": f"Bearer {tenant.token}"})
    try:
        assert (await next_message(socket))["type"] == "connection_ack"
        for number in range(subscriptions):
            await socket.send(
                json.dumps(
                    {"id": str(number), "type": "subscribe", "payload": {"query": SUBSCRIPTION}}
                )
            )
        current = [await next_message(socket) for _ in range(subscriptions)]
        assert {message["type"] for message in current} == {"next"}, current[-1]
        assert len({message["id"] for message in current}) == subscriptions

        await points_client.execute(
            EARN,
            {
                "input": {
                    "customerId": gid("Customer", customer_id),
                    "points": 7,
                    "reason": "review",
                    "idempotencyKey": f"many:{customer_id}",
                }
            },
            tenant=tenant,
        )
        updates = [await next_message(socket) for _ in range(subscriptions)]
    finally:
        await socket.close()

    assert len({update["id"] for update in updates}) == subscriptions
    assert {
        update["payload"]["data"]["loyaltyMetricsUpdated"]["pointsIssued"] for update in updates
    } == {"17"}
