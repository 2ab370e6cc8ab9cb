"""``shopifyBackfillProgress``: the dashboard follows the backfill over a socket to the admin
subgraph instead of polling: the run as it stands first, then each step and batch the worker
commits, completed once the run has ended; a shop without a run, or another shop's
follower, gets nothing but the end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect

from db.models import BackfillStatus
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, served_subgraph
from tests.worker.shopify_backfill.runs import backfill_job
from tests.worker.shopify_backfill.shopify_bulk import mocked_shopify, recorded_lines

PROGRESS = (
    "subscription { shopifyBackfillProgress { status step customersImported ordersImported } }"
)


@pytest_asyncio.fixture(loop_scope="session")
async def admin_url(resources: Resources) -> AsyncIterator[str]:
    async with served_subgraph("admin", resources) as url:
        yield url


def _progress(message: dict[str, Any]) -> dict[str, Any]:
    """The pushed run, its counts (64-bit safe: sent as strings) as numbers."""
    assert "errors" not in message["payload"], message
    push: dict[str, Any] = message["payload"]["data"]["shopifyBackfillProgress"]
    return {
        **push,
        "customersImported": int(push["customersImported"]),
        "ordersImported": int(push["ordersImported"]),
    }


async def _next(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
    return message


async def _follow(admin_url: str, tenant: Tenant) -> AsyncIterator[ClientConnection]:
    async with connect(admin_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
        await socket.send(json.dumps(init))
        assert (await _next(socket))["type"] == "connection_ack"
        subscribe = {"id": "b", "type": "subscribe", "payload": {"query": PROGRESS}}
        await socket.send(json.dumps(subscribe))
        yield socket


async def _rest(socket: ClientConnection) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every push until the end, and the message that ended it."""
    seen = []
    while (message := await _next(socket))["type"] == "next":
        seen.append(_progress(message))
    return seen, message


async def test_the_backfill_is_pushed_batch_by_batch_until_it_completes(
    admin_url: str,
    resources: Resources,
    installed: Tenant,
    download_http: httpx.AsyncClient,
) -> None:
    async for socket in _follow(admin_url, installed):
        assert _progress(await _next(socket)) == {
            "status": "QUEUED",
            "step": "CUSTOMERS",
            "customersImported": 0,
            "ordersImported": 0,
        }
        job = backfill_job(
            resources,
            installed,
            download_http,
            batch_lines=4,
            publish=resources.pubsub.publish,
        )
        with mocked_shopify(installed.shop_domain):
            assert await job.run() is BackfillStatus.COMPLETED
        seen, end = await _rest(socket)
    assert end == {"id": "b", "type": "complete"}
    orders = len(recorded_lines("orders"))
    assert seen[-1] == {
        "status": "COMPLETED",
        "step": "SCORING",
        "customersImported": 4,
        "ordersImported": orders,
    }
    # Batches of 4 of the orders file's lines, each pushed as it commits: in between counts
    # too, and never backwards.
    counts = [push["ordersImported"] for push in seen]
    assert counts == sorted(counts)
    assert any(0 < count < orders for count in counts)
    steps = ["CUSTOMERS", "ORDERS", "SCORING"]
    assert {push["step"] for push in seen} >= {"ORDERS", "SCORING"}
    assert [steps.index(push["step"]) for push in seen] == sorted(
        steps.index(push["step"]) for push in seen
    )


async def test_a_shop_without_a_run_and_another_shops_follower_get_only_the_end(
    admin_url: str, installed: Tenant, other_tenant: Tenant
) -> None:
    # ``installed`` queued a run for its shop only: the other shop never ran one.
    async for socket in _follow(admin_url, other_tenant):
        assert await _next(socket) == {"id": "b", "type": "complete"}


async def test_a_finished_run_is_sent_once_then_the_subscription_completes(
    admin_url: str,
    resources: Resources,
    installed: Tenant,
    download_http: httpx.AsyncClient,
) -> None:
    with mocked_shopify(installed.shop_domain):
        assert await backfill_job(resources, installed, download_http).run() is (
            BackfillStatus.COMPLETED
        )
    async for socket in _follow(admin_url, installed):
        seen, end = await _rest(socket)
    assert [push["status"] for push in seen] == ["COMPLETED"]
    assert end == {"id": "b", "type": "complete"}
