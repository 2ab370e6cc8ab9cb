"""The paths that change referrals announce it to referralActivity after their commit: a
counted click at the edge app (not a repeat of it), a friend's signup with the code and their
paid order processed by the worker (not a replay of them). Over real HTTP and a real
WebSocket."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, served_subgraph
from tests.gateway.referrals.test_clicks import BROWSER, signed_proxy_query
from tests.gateway.webhooks.shopify import deliver, process_pending
from tests.gateway.webhooks.test_referral_webhooks import (
    advocate_link,
    friends_order,
    friends_signup,
)
from tests.subgraphs.referrals.test_referral_activity import activity, next_message, watch


@pytest_asyncio.fixture(loop_scope="session")
async def referrals_url(resources: Resources) -> AsyncIterator[str]:
    async with served_subgraph("referrals", resources) as url:
        yield url


async def test_clicks_signups_and_orders_reach_the_dashboard_once_each(
    edge: httpx.AsyncClient, referrals_url: str, resources: Resources, tenant: Tenant
) -> None:
    _, code = await advocate_link(edge, resources, tenant)
    visitor = {"x-forwarded-for": "203.0.113.9", "user-agent": BROWSER}
    socket = await watch(referrals_url, tenant)
    try:
        await activity(socket)
        await edge.get(f"/proxy/r/{code}", params=signed_proxy_query(tenant), headers=visitor)
        clicked = await activity(socket)
        await edge.get(f"/proxy/r/{code}", params=signed_proxy_query(tenant), headers=visitor)
        with pytest.raises(TimeoutError):  # the same visitor again: not counted, not pushed
            await next_message(socket, seconds=1.0)

        await deliver(edge, "customers/create", friends_signup(code), shop=tenant.shop_domain)
        await process_pending(resources, tenant.merchant_id)
        signed_up = await activity(socket)
        await deliver(edge, "customers/create", friends_signup(code), shop=tenant.shop_domain)
        await process_pending(resources, tenant.merchant_id)
        with pytest.raises(TimeoutError):  # a resent signup changes nothing
            await next_message(socket, seconds=1.0)

        await deliver(edge, "orders/paid", friends_order(8001), shop=tenant.shop_domain)
        await process_pending(resources, tenant.merchant_id)
        ordered = await activity(socket)
    finally:
        await socket.close()

    assert (clicked["clicks"], clicked["uniqueVisitors"]) == ("1", "1")
    assert signed_up["referralsCreated"] == "1"
    assert [entry["status"] for entry in signed_up["latest"]] == ["PENDING"]
    assert ordered["referralsCompleted"] == "1"
    assert [entry["status"] for entry in ordered["latest"]] == ["COMPLETED"]
