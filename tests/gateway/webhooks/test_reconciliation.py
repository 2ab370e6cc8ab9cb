"""Reconciliation reads orders back from Shopify's Admin API (mocked with respx: Shopify is a
third party) and applies what the webhooks missed, idempotently with the webhook path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio
import respx
from purgatory import AsyncCircuitBreakerFactory
from sqlalchemy import select

from db.models import PointsTransaction
from db.session import tenant_unit_of_work
from subgraphs.kit.integrations.shopify_admin import ShopifyAdminClient
from subgraphs.kit.resources import Resources
from subgraphs.points.orders.reconciliation import reconcile_shop
from tests.conftest import Tenant
from tests.gateway.webhooks.shopify import deliver, order_payload, process_pending
from tests.gateway.webhooks.test_topics import _configure


def _node(number: int, *, customer: int, amount: str, cancelled: bool = False) -> dict[str, Any]:
    def money(value: str) -> dict[str, Any]:
        return {"shopMoney": {"amount": value, "currencyCode": "USD"}}

    return {
        "id": f"gid://shopify/Order/{number}",
        "legacyResourceId": str(number),
        "name": f"#{number}",
        "email": f"buyer{customer}@example.com",
        "createdAt": "2026-11-23T10:00:00Z",
        "updatedAt": "2026-11-23T11:00:00Z",
        "sourceName": "web",
        "displayFinancialStatus": "PAID",
        "cancelledAt": "2026-11-23T11:00:00Z" if cancelled else None,
        "customer": {"id": f"gid://shopify/Customer/{customer}", "legacyResourceId": str(customer)},
        "currentSubtotalPriceSet": money(amount),
        "lineItems": {
            "pageInfo": {"hasNextPage": False},
            "nodes": [
                {
                    "id": f"gid://shopify/LineItem/{number}1",
                    "title": "Tea",
                    "quantity": 1,
                    "originalTotalSet": money(amount),
                    "discountedTotalSet": money(amount),
                }
            ],
        },
    }


def _page(nodes: list[dict[str, Any]]) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "data": {
                "orders": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": nodes}
            },
            "extensions": {
                "cost": {
                    "requestedQueryCost": 80,
                    "actualQueryCost": 20,
                    "throttleStatus": {
                        "maximumAvailable": 1000,
                        "currentlyAvailable": 980,
                        "restoreRate": 50,
                    },
                }
            },
        },
    )


@pytest_asyncio.fixture(loop_scope="session")
async def admin_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


async def _ledger(resources: Resources, tenant: Tenant) -> list[tuple[str, str | None, int]]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.execute(
            select(
                PointsTransaction.kind, PointsTransaction.order_id, PointsTransaction.points
            ).order_by(PointsTransaction.order_id, PointsTransaction.created_at)
        )
        return [(str(kind), order_id, int(points)) for kind, order_id, points in rows]


async def test_reconciliation_awards_missed_orders_and_reverses_missed_cancellations_once(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant, admin_http: httpx.AsyncClient
) -> None:
    await _configure(resources, tenant)
    # 3001 came by webhook; 3003 came by webhook and was later cancelled without one.
    for number in (3001, 3003):
        payload = order_payload(
            number,
            lines=[(number * 10 + 1, 1, "10.00")],
            customer_id=41,
            email="buyer41@example.com",
        )
        await deliver(edge, "orders/paid", payload, shop=tenant.shop_domain)
    await process_pending(resources, tenant.merchant_id)
    nodes = [
        _node(3001, customer=41, amount="10.00"),
        _node(3002, customer=42, amount="25.00"),  # no webhook ever arrived
        _node(3003, customer=41, amount="10.00", cancelled=True),
    ]
    client = ShopifyAdminClient(
        admin_http,
        shop_domain=tenant.shop_domain,
        access_token="shpat_test",
        breakers=AsyncCircuitBreakerFactory(),
    )
    since = datetime.now(UTC) - timedelta(hours=2)

    with respx.mock(assert_all_called=True) as shopify:
        shopify.post(f"https://{tenant.shop_domain}/admin/api/2025-10/graphql.json").mock(
            side_effect=[_page(nodes), _page(nodes)]
        )
        first = await reconcile_shop(
            resources.sessions,
            resources.cipher,
            tenant.merchant_id,
            client,
            since=since,
            now=datetime.now(UTC),
        )
        again = await reconcile_shop(
            resources.sessions,
            resources.cipher,
            tenant.merchant_id,
            client,
            since=since,
            now=datetime.now(UTC),
        )

    assert (first.awarded, first.reversed) == (["3002"], ["3003"])
    assert (again.awarded, again.reversed) == ([], [])
    expected = [
        ("earn", "3001", 100),
        ("earn", "3002", 250),
        ("earn", "3003", 100),
        ("reverse", "3003", -100),
    ]
    assert await _ledger(resources, tenant) == expected
    # The webhook for 3002 arrives late after all: it finds the award made.
    late = order_payload(
        3002, lines=[(30021, 1, "25.00")], customer_id=42, email="buyer42@example.com"
    )
    await deliver(edge, "orders/paid", late, shop=tenant.shop_domain)
    await process_pending(resources, tenant.merchant_id)
    assert await _ledger(resources, tenant) == expected
