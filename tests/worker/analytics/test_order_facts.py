"""Order facts are written by every path that sees an order — the order webhooks,
reconciliation (Shopify's Admin API mocked with respx: a third party), the ledger backfill —
once per order whatever the path or how often it comes, and a poorer source never overwrites
a richer one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest_asyncio
import respx
from purgatory import AsyncCircuitBreakerFactory
from sqlalchemy import select

from db.models import OrderFact, PointsTransaction
from db.session import tenant_unit_of_work
from subgraphs.kit.integrations.shopify_admin import ShopifyAdminClient
from subgraphs.kit.resources import Resources
from subgraphs.points.ledger.service import EarnCommand, earn
from subgraphs.points.program.calculation import EarnAction, Order, OrderLine
from subgraphs.points.program.service import Channel
from tests.conftest import Tenant, add_customer
from tests.gateway.webhooks.shopify import deliver, order_payload, process_pending, refund_payload
from tests.gateway.webhooks.test_reconciliation import _node, _page
from tests.gateway.webhooks.test_topics import _configure
from tests.subgraphs.analytics.rfm_shops import fact, record
from worker.analytics.jobs import backfill_order_facts, reconcile_order_facts
from worker.webhooks.processing import DeliveryOutcome


async def _facts(resources: Resources, tenant: Tenant) -> dict[str, OrderFact]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalars(select(OrderFact))
        return {row.shopify_order_id: row for row in rows}


@pytest_asyncio.fixture(loop_scope="session")
async def send(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> Callable[[str, Any], Awaitable[None]]:
    """Deliver one webhook to the edge app, then run the worker on it."""

    async def deliver_and_process(topic: str, payload: Any) -> None:
        response = await deliver(edge, topic, payload, shop=tenant.shop_domain)
        assert response.status_code == 200, response.text
        outcomes = await process_pending(resources, tenant.merchant_id)
        assert outcomes == [DeliveryOutcome.DONE]

    return deliver_and_process


Send = Callable[[str, Any], Awaitable[None]]


def _rich_order(number: int, *, customer: int, total: str, status: str = "paid") -> Any:
    payload = order_payload(
        number,
        lines=[(number * 10, 1, total)],
        customer_id=customer,
        email=f"buyer{customer}@example.com",
        financial_status=status,
    )
    payload |= {
        "subtotal_price": total,
        "total_price": str(Decimal(total) + 5),
        "presentment_currency": "EUR",
        "subtotal_price_set": {
            "shop_money": {"amount": total, "currency_code": "USD"},
            "presentment_money": {"amount": str(Decimal(total) * 2), "currency_code": "EUR"},
        },
        "total_price_set": {
            "shop_money": {"amount": str(Decimal(total) + 5), "currency_code": "USD"},
            "presentment_money": {
                "amount": str((Decimal(total) + 5) * 2),
                "currency_code": "EUR",
            },
        },
        "discount_codes": [{"code": "LOYAL-5OFF", "amount": "5.00", "type": "fixed_amount"}],
        "source_name": "pos",
    }
    return payload


async def test_every_order_webhook_upserts_one_fact_and_a_refund_counts_once(
    send: Send, resources: Resources, tenant: Tenant
) -> None:
    await _configure(resources, tenant)
    await send("orders/create", _rich_order(4001, customer=51, total="40.00"))
    created = (await _facts(resources, tenant))["4001"]
    assert created.customer_id is not None
    assert (created.subtotal, created.total) == (Decimal("40.00"), Decimal("45.00"))
    assert (created.presentment_currency, created.presentment_total) == ("EUR", Decimal("90.00"))
    assert created.presentment_subtotal == Decimal("80.00")
    assert (created.channel, created.region) == ("pos", "US")
    assert created.discount_codes == ["LOYAL-5OFF"]
    assert created.paid_at is not None
    assert created.cancelled_at is None

    # Shopify resends it, then it is edited: still one row, now with the new totals.
    await send("orders/paid", _rich_order(4001, customer=51, total="40.00"))
    await send("orders/updated", _rich_order(4001, customer=51, total="30.00"))
    refund = refund_payload(71, 4001, [(40010, 1, "12.50")])
    await send("refunds/create", refund)
    await send("refunds/create", refund)  # redelivered: counted once
    await send("refunds/create", refund_payload(72, 4001, [(40010, 1, "2.50")]))
    cancelled = order_payload(4001, lines=[(40010, 1, "30.00")], customer_id=51, cancelled=True) | {
        "subtotal_price": "30.00",
        "total_price": "35.00",
    }
    await send("orders/cancelled", cancelled)

    facts = await _facts(resources, tenant)
    assert list(facts) == ["4001"]
    fact = facts["4001"]
    assert (fact.id, fact.customer_id) == (created.id, created.customer_id)
    assert (fact.subtotal, fact.total) == (Decimal("30.00"), Decimal("35.00"))
    assert fact.refunded_amount == Decimal("15.00")
    assert fact.cancelled_at is not None
    assert fact.paid_at == created.paid_at


async def test_a_guest_order_is_a_fact_without_a_customer(
    send: Send, resources: Resources, tenant: Tenant
) -> None:
    guest = order_payload(4101, lines=[(1, 1, "9.00")]) | {"subtotal_price": "9.00"}
    await send("orders/create", guest)
    fact = (await _facts(resources, tenant))["4101"]
    assert (fact.customer_id, fact.total) == (None, Decimal("9.00"))


@pytest_asyncio.fixture(loop_scope="session")
async def admin_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


async def test_reconciliation_adds_missed_orders_and_cancellations_without_overwriting(
    send: Send, resources: Resources, tenant: Tenant, admin_http: httpx.AsyncClient
) -> None:
    await _configure(resources, tenant)
    await send("orders/paid", _rich_order(4201, customer=61, total="20.00"))
    client = ShopifyAdminClient(
        admin_http,
        shop_domain=tenant.shop_domain,
        access_token="shpat_test",
        breakers=AsyncCircuitBreakerFactory(),
    )
    nodes = [
        _node(4201, customer=61, amount="20.00", cancelled=True),  # cancelled, no webhook
        _node(4202, customer=61, amount="25.00"),  # no webhook ever arrived
    ]
    since = datetime.now(UTC) - timedelta(hours=2)
    with respx.mock(assert_all_called=True) as shopify:
        shopify.post(url__regex=r"/admin/api/.*/graphql\.json").mock(return_value=_page(nodes))
        for _ in range(2):  # a second run changes nothing
            read = await reconcile_order_facts(
                resources.sessions, tenant.merchant_id, client, since=since
            )
            assert read == 2
    facts = await _facts(resources, tenant)
    assert set(facts) == {"4201", "4202"}
    # The webhook's richer row keeps its totals and presentment amounts, and gains the
    # cancellation; the missed order is found under the customer of its Shopify id.
    assert (facts["4201"].total, facts["4201"].presentment_currency) == (Decimal("25.00"), "EUR")
    assert facts["4201"].cancelled_at is not None
    assert facts["4202"].customer_id == facts["4201"].customer_id
    assert (facts["4202"].total, facts["4202"].source) == (Decimal("25.00"), "reconciliation")


async def test_the_backfill_turns_the_ledgers_earns_into_facts_once(
    resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    placed_at = datetime(2026, 10, 3, tzinfo=UTC)
    order = Order(
        "4301",
        "USD",
        (OrderLine("a", 1, Decimal("12.00")), OrderLine("b", 2, Decimal("8.50"))),
        Channel.ONLINE,
        placed_at,
    )
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await earn(
            session,
            tenant.merchant_id,
            EarnCommand(customer_id, EarnAction.PURCHASE, "order:4301:earn", order=order),
            now=placed_at,
        )
        earned_at = await session.scalar(
            select(PointsTransaction.created_at).where(PointsTransaction.order_id == "4301")
        )
    assert await backfill_order_facts(resources.sessions, tenant.merchant_id) == 1
    assert await backfill_order_facts(resources.sessions, tenant.merchant_id) == 0
    fact = (await _facts(resources, tenant))["4301"]
    assert fact.customer_id == customer_id
    assert fact.created_at == earned_at
    assert (fact.subtotal, fact.presentment_subtotal) == (order.subtotal, order.subtotal)
    assert (fact.currency, fact.source, fact.cancelled_at) == ("USD", "ledger", None)
    assert fact.id[14] == "7"  # a UUIDv7


async def test_thousands_of_orders_in_one_call_are_all_recorded(
    resources: Resources, tenant: Tenant
) -> None:
    """A reconciliation or a backfill hands over thousands of orders at once: more than one
    statement can carry (Postgres takes 32,767 parameters), so none may be lost to that."""
    customer_id = await add_customer(resources, tenant)
    now = datetime.now(UTC)
    facts = [
        fact(700_000 + n, customer_id, now - timedelta(minutes=n), "5.00") for n in range(2_500)
    ]
    for _ in range(2):  # again: nothing doubles
        await record(resources, tenant, facts)
    assert len(await _facts(resources, tenant)) == 2_500
