"""referralActivity through the router: a merchant dashboard subscribed over the router's
WebSocket gets the day so far, then a fresh snapshot when a shopper claims a code through the
router (the referrals subgraph process publishes after its commit, over Redis)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from websockets.asyncio.client import connect

from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, add_customer
from tests.e2e.conftest import Router
from tests.e2e.test_live_dashboards import receive
from tests.subgraphs.referrals.test_referral_activity import ACTIVITY
from tests.subgraphs.referrals.test_referral_api import CLAIM, advocate_code, shopper


@pytest_asyncio.fixture(loop_scope="session")
async def router_http(router: Router) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=15) as client:
        yield client


def snapshot(message: dict[str, Any]) -> dict[str, Any]:
    assert message["type"] == "next", message
    result: dict[str, Any] = message["payload"]["data"]["referralActivity"]
    return result


async def test_a_claim_through_the_router_reaches_the_dashboard(
    router: Router, router_http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    _, code = await advocate_code(resources, tenant)
    friend = await add_customer(resources, tenant)
    async with connect(router.ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
            )
        )
        assert (await receive(socket))["type"] == "connection_ack"
        await socket.send(
            json.dumps({"id": "a", "type": "subscribe", "payload": {"query": ACTIVITY}})
        )
        first = snapshot(await receive(socket))
        response = await router_http.post(
            "",
            json={"query": CLAIM, "variables": {"code": code}},
            headers=shopper(resources, tenant, friend),
        )
        claimed = snapshot(await receive(socket))

    assert response.json()["data"]["referralClaim"]["userErrors"] == []
    assert (first["referralsCreated"], first["latest"]) == ("0", [])
    assert claimed["referralsCreated"] == "1"
    assert [entry["status"] for entry in claimed["latest"]] == ["PENDING"]
