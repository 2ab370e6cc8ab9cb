"""GDPR end to end: Shopify's mandatory webhooks through the shim and the worker's code path.
Before the erasure, the data request hands over everything held; after it, an auditor's scan
of every table (decrypting every encrypted column) finds nothing of the person, while the
merchant's ledger amounts stay."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from sqlalchemy import func, select

from db.models import Customer, PointsTransaction
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant
from tests.gateway.webhooks.shopify import (
    customer_payload,
    deliver,
    inbox,
    order_payload,
    process_pending,
    refund_payload,
)
from tests.gateway.webhooks.test_topics import _configure
from tests.pii_scan import find_pii

EMAIL = "grace.hopper@example.com"
PHONE = "+15551230000"
NAMES = ("Grace", "Hopper")
ADDRESS = "Navy Yard 42"


def _order(order_id: int, shopify_customer: int) -> dict[str, Any]:
    payload = order_payload(
        order_id,
        lines=[(order_id * 10, 1, "30.00"), (order_id * 10 + 1, 2, "10.00")],
        customer_id=shopify_customer,
        email=EMAIL,
    )
    payload["customer"].update(first_name=NAMES[0], last_name=NAMES[1], phone=PHONE)
    payload["shipping_address"].update(address1=ADDRESS, name=" ".join(NAMES), phone=PHONE)
    return payload


async def _ledger_totals(resources: Resources, tenant: Tenant) -> tuple[int, int, int]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        count, total = (
            await session.execute(select(func.count(), func.sum(PointsTransaction.points)))
        ).one()
        balance = await session.scalar(select(func.sum(Customer.points_balance)))
    return int(count), int(total or 0), int(balance or 0)


async def test_data_request_returns_everything_then_redact_leaves_no_trace(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant, admin_client: SubgraphClient
) -> None:
    await _configure(resources, tenant)
    shop = tenant.shop_domain
    person = customer_payload(6001, EMAIL, phone=PHONE, first_name=NAMES[0], last_name=NAMES[1])
    await deliver(edge, "customers/create", person, shop=shop)
    await deliver(edge, "orders/paid", _order(7001, 6001), shop=shop)
    await deliver(
        edge, "refunds/create", refund_payload(8001, 7001, [(70011, 1, "10.00")]), shop=shop
    )
    await process_pending(resources, tenant.merchant_id)
    # A delivery that failed and still holds its payload (the name, the address).
    broken = _order(7002, 6001)
    broken["line_items"] = "not a list"
    await deliver(edge, "orders/create", broken, shop=shop)
    await process_pending(resources, tenant.merchant_id)
    assert [r["status"] for r in await inbox(resources, tenant.merchant_id)][-1] == "failed"
    # Someone else of the same shop, who must be left alone.
    await deliver(edge, "customers/create", customer_payload(6002, "other@example.com"), shop=shop)
    await process_pending(resources, tenant.merchant_id)
    before = await _ledger_totals(resources, tenant)

    request = {
        "customer": {"id": 6001, "email": EMAIL, "phone": PHONE},
        "orders_requested": [7001],
        "data_request": {"id": 9001},
        "shop_domain": shop,
    }
    await deliver(edge, "customers/data_request", request, shop=shop)
    await process_pending(resources, tenant.merchant_id)
    result = await admin_client.execute(
        "{ gdprRequests(type: DATA_REQUEST) { edges { node { status export } } } }",
        tenant=tenant,
    )
    [edge_node] = result["data"]["gdprRequests"]["edges"]
    assert edge_node["node"]["status"] == "COMPLETED"
    export = orjson.dumps(edge_node["node"]["export"]).decode()
    assert EMAIL in export
    assert PHONE in export
    for amount in ("400", "-100", "200"):  # the order, its refund, the signup bonus
        assert amount in export
    assert await find_pii(resources, tenant.merchant_id, [EMAIL, PHONE, *NAMES, ADDRESS])

    redact = {
        "customer": {"id": 6001, "email": EMAIL, "phone": PHONE},
        "orders_to_redact": [7001, 7002],
        "shop_domain": shop,
    }
    await deliver(edge, "customers/redact", redact, shop=shop)
    await process_pending(resources, tenant.merchant_id)

    assert await find_pii(resources, tenant.merchant_id, [EMAIL, PHONE, *NAMES, ADDRESS]) == []
    assert await _ledger_totals(resources, tenant) == before
    assert await find_pii(resources, tenant.merchant_id, ["other@example.com"])
