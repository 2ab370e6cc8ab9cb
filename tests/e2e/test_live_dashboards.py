"""Many live dashboards of one shop through the router: the router puts every subscription of
one token on one upstream socket, and each of them must get the update (past 100 they were
refused with DOWNSTREAM_SERVICE_ERROR)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect

from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, add_customer
from tests.e2e.conftest import Router
from tests.e2e.test_through_the_router import EARN, earn, graphql

DASHBOARDS = 150
SUBSCRIPTION = "subscription { loyaltyMetricsUpdated { pointsIssued } }"


@pytest_asyncio.fixture(loop_scope="session")
async def router_http(router: Router) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=15) as client:
        yield client


async def receive(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 30))
    return message


async def dashboard(stack: AsyncExitStack, router: Router, tenant: Tenant) -> ClientConnection:
    socket = await stack.enter_async_context(
        connect(router.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    )
    await socket.send(
        json.dumps(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
        )
    )
    assert (await receive(socket))["type"] == "connection_ack"
    await socket.send(
        json.dumps({"id": "metrics", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
    )
    return socket


async def test_every_dashboard_of_a_shop_gets_the_update(
    router: Router,
    router_http: httpx.AsyncClient,
    resources: Resources,
    tenant: Tenant,
) -> None:
    customer_id = await add_customer(resources, tenant, points=10)
    async with AsyncExitStack() as stack:
        sockets = [await dashboard(stack, router, tenant) for _ in range(DASHBOARDS)]
        current = await asyncio.gather(*(receive(socket) for socket in sockets))
        assert {message["type"] for message in current} == {"next"}, current[-1]

        result = await graphql(
            router_http, tenant, EARN, earn(customer_id, 15, f"live:{customer_id}")
        )
        assert result["data"]["pointsAdjust"]["userErrors"] == []
        updates = await asyncio.gather(*(receive(socket) for socket in sockets))

    assert [update.get("type") for update in updates] == ["next"] * DASHBOARDS, [
        update for update in updates if update.get("type") != "next"
    ][:1]
    assert {
        update["payload"]["data"]["loyaltyMetricsUpdated"]["pointsIssued"] for update in updates
    } == {"25"}
