"""What one paid order costs the worker in SQL statements: each statement is a round trip,
and round trips (the socket writes behind them) were most of the worker's CPU per order
(issue 12, bench/README.md). An order's points, referral and analytics steps ask Postgres for
the customer once, and the RFM recompute reads its thresholds and segments in one statement."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import text

from db.session import tenant_unit_of_work
from subgraphs.kit.auth_repository import (
    customer_id_for_shopify_customer,
    remember_shopify_customer,
)
from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, Tenant
from tests.gateway.webhooks.shopify import deliver, order_payload
from worker.webhooks.processing import DeliveryOutcome, process_delivery


async def _paid(edge: httpx.AsyncClient, tenant: Tenant, order_id: int) -> str:
    payload = order_payload(
        order_id, lines=[(order_id * 10, 1, "25.00")], customer_id=8_801, email="once@example.com"
    )
    response = await deliver(edge, "orders/paid", payload, shop=tenant.shop_domain)
    assert response.status_code == 200, response.text
    return str(response.json()["deliveryId"])


def _reading(statements: list[str], *tables: str) -> list[str]:
    """The SELECTs that read any of ``tables``."""
    read = re.compile(rf"\b(FROM|JOIN) ({'|'.join(tables)})\b")
    return [s for s in statements if s.lstrip().startswith("SELECT") and read.search(s)]


async def test_an_order_of_a_known_customer_looks_them_up_once(
    edge: httpx.AsyncClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    first = await _paid(edge, tenant, 88_001)  # enrols the customer
    assert await process_delivery(resources, tenant.merchant_id, first) is DeliveryOutcome.DONE
    second = await _paid(edge, tenant, 88_002)
    before = len(count_statements.statements)

    assert await process_delivery(resources, tenant.merchant_id, second) is DeliveryOutcome.DONE

    statements = count_statements.statements[before:]
    by_shopify_id = [s for s in _reading(statements, "customers") if "shopify_customer_id =" in s]
    assert len(by_shopify_id) == 1, by_shopify_id  # points asks; referrals and analytics reuse
    thresholds = _reading(statements, "rfm_thresholds", "customer_segments")
    assert len(thresholds) == 1, thresholds  # one statement for both
    # The order still reached every step: points earned, the fact names the customer.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        facts = (
            await session.execute(
                text(
                    "SELECT o.customer_id, c.shopify_customer_id FROM orders o"
                    " JOIN customers c ON c.id = o.customer_id"
                    " WHERE o.shopify_order_id IN ('88001', '88002')"
                )
            )
        ).all()
        earned = await session.scalar(
            text("SELECT count(*) FROM points_transactions WHERE kind = 'earn'")
        )
    assert [row.shopify_customer_id for row in facts] == ["8801", "8801"]
    assert earned == 2


async def test_a_rolled_back_savepoint_forgets_the_customers_it_named(
    resources: Resources, tenant: Tenant, count_statements: StatementCounter
) -> None:
    """What a savepoint enrolled is gone after its rollback; the memo must not outlive it."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        async with session.begin_nested() as savepoint:
            remember_shopify_customer(session, tenant.merchant_id, "gone-1", "cus_gone")
            assert (
                await customer_id_for_shopify_customer(session, tenant.merchant_id, "gone-1")
                == "cus_gone"
            )
            await savepoint.rollback()
        before = len(count_statements.statements)

        found = await customer_id_for_shopify_customer(session, tenant.merchant_id, "gone-1")

        assert found is None
        assert len(count_statements.statements) == before + 1  # asked Postgres again
