"""Each topic's effect on the points program, delivered through the shim and processed by the
worker's code path (in-process here; tests/gateway/webhooks/test_worker_process.py runs the
real worker process)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select, text

from db.encryption_contexts import CUSTOMERS_EMAIL
from db.models import Customer, Merchant, PointsTransaction
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.program.service import update_program_config
from tests.conftest import Tenant
from tests.gateway.webhooks.shopify import (
    customer_payload,
    deliver,
    inbox,
    order_payload,
    process_pending,
    refund_payload,
)
from worker.webhooks.processing import DeliveryOutcome, process_delivery


async def _configure(resources: Resources, tenant: Tenant, **changes: Any) -> None:
    # No first-purchase bonus unless a test asks: 10 points per dollar, exactly.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_program_config(
            WriteContext(session, tenant.merchant_id), {"first_purchase": None, **changes}
        )


async def _send(
    edge: httpx.AsyncClient, tenant: Tenant, topic: str, payload: dict[str, Any], **kw: Any
) -> None:
    response = await deliver(edge, topic, payload, shop=tenant.shop_domain, **kw)
    assert response.status_code == 200, response.text


async def _customer(resources: Resources, tenant: Tenant, shopify_id: str) -> Customer | None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        found = await session.scalars(
            select(Customer).where(
                Customer.merchant_id == tenant.merchant_id,
                Customer.shopify_customer_id == shopify_id,
            )
        )
        return found.one_or_none()


async def _ledger(resources: Resources, tenant: Tenant) -> list[tuple[str, int, str | None]]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.execute(
            select(
                PointsTransaction.kind, PointsTransaction.points, PointsTransaction.order_id
            ).order_by(PointsTransaction.created_at, PointsTransaction.id)
        )
        return [(str(kind), int(points), order_id) for kind, points, order_id in rows]


async def test_an_order_earns_once_whichever_webhook_comes_first(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await _configure(resources, tenant)
    order = order_payload(
        2001, lines=[(1, 1, "40.00"), (2, 2, "5.00")], customer_id=900, email="one@example.com"
    )

    await _send(edge, tenant, "orders/create", order)
    await _send(edge, tenant, "orders/paid", order)
    outcomes = await process_pending(resources, tenant.merchant_id)

    assert outcomes == [DeliveryOutcome.DONE, DeliveryOutcome.DONE]
    assert await _ledger(resources, tenant) == [("earn", 500, "2001")]
    customer = await _customer(resources, tenant, "900")
    assert customer is not None
    assert customer.points_balance == 500
    assert customer.orders_count == 1


async def test_with_award_on_paid_an_unpaid_order_waits_for_orders_paid(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await _configure(resources, tenant, award_on="order_paid")
    pending = order_payload(
        2002,
        lines=[(1, 1, "20.00")],
        customer_id=901,
        email="two@example.com",
        financial_status="pending",
    )

    await _send(edge, tenant, "orders/create", pending)
    await process_pending(resources, tenant.merchant_id)
    assert await _ledger(resources, tenant) == []

    await _send(edge, tenant, "orders/paid", {**pending, "financial_status": "paid"})
    await process_pending(resources, tenant.merchant_id)
    assert await _ledger(resources, tenant) == [("earn", 200, "2002")]


async def test_with_award_on_created_an_unpaid_order_earns_at_creation(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await _configure(resources, tenant, award_on="order_created")
    pending = order_payload(
        2003,
        lines=[(1, 1, "20.00")],
        customer_id=902,
        email="three@example.com",
        financial_status="pending",
    )

    await _send(edge, tenant, "orders/create", pending)
    await _send(edge, tenant, "orders/paid", {**pending, "financial_status": "paid"})
    await process_pending(resources, tenant.merchant_id)

    assert await _ledger(resources, tenant) == [("earn", 200, "2003")]


async def test_pos_orders_earn_like_online_ones(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await _configure(resources, tenant)
    pos = order_payload(
        2004, lines=[(1, 3, "2.50")], customer_id=903, email="pos@example.com", source_name="pos"
    )

    await _send(edge, tenant, "orders/create", pos)
    await process_pending(resources, tenant.merchant_id)

    assert await _ledger(resources, tenant) == [("earn", 75, "2004")]


async def test_a_guest_order_accrues_to_the_email_and_is_claimed_by_the_new_account(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await _configure(resources, tenant)
    guest = order_payload(2005, lines=[(1, 1, "30.00")], email="Guest@Example.com")

    await _send(edge, tenant, "orders/create", guest)
    await process_pending(resources, tenant.merchant_id)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        [guest_row] = (await session.scalars(select(Customer))).all()
    assert guest_row.shopify_customer_id is None
    assert guest_row.points_balance == 300
    assert guest_row.email_blind_index == resources.cipher.blind_index(
        "guest@example.com", context=CUSTOMERS_EMAIL
    )

    await _send(edge, tenant, "customers/create", customer_payload(904, "guest@example.com"))
    await process_pending(resources, tenant.merchant_id)

    claimed = await _customer(resources, tenant, "904")
    assert claimed is not None
    assert claimed.id == guest_row.id
    assert claimed.points_balance == 300 + 200  # the order, then the signup bonus


async def test_a_refund_takes_back_exactly_its_lines_once(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await _configure(resources, tenant)
    order = order_payload(
        2006, lines=[(11, 1, "40.00"), (12, 2, "5.00")], customer_id=905, email="refund@example.com"
    )
    refund = refund_payload(77, 2006, [(12, 2, "10.00")])

    await _send(edge, tenant, "orders/create", order)
    await _send(edge, tenant, "refunds/create", refund)
    # Shopify redelivers under a new webhook id (a second subscription, a manual resend).
    await _send(edge, tenant, "refunds/create", refund)
    await process_pending(resources, tenant.merchant_id)

    assert await _ledger(resources, tenant) == [("earn", 500, "2006"), ("reverse", -100, "2006")]
    customer = await _customer(resources, tenant, "905")
    assert customer is not None
    assert customer.points_balance == 400


async def test_a_cancellation_takes_back_the_whole_order(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await _configure(resources, tenant)
    order = order_payload(2007, lines=[(1, 1, "12.00")], customer_id=906, email="c@example.com")

    await _send(edge, tenant, "orders/create", order)
    await _send(edge, tenant, "orders/cancelled", {**order, "cancelled_at": order["created_at"]})
    await process_pending(resources, tenant.merchant_id)

    assert await _ledger(resources, tenant) == [("earn", 120, "2007"), ("reverse", -120, "2007")]


async def test_an_unpaid_order_cancelled_before_it_earned_changes_nothing(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await _configure(resources, tenant, award_on="order_paid")
    order = order_payload(
        2008,
        lines=[(1, 1, "12.00")],
        customer_id=907,
        email="u@example.com",
        financial_status="pending",
        cancelled=True,
    )

    await _send(edge, tenant, "orders/create", order)
    await _send(edge, tenant, "orders/cancelled", order)
    outcomes = await process_pending(resources, tenant.merchant_id)

    assert outcomes == [DeliveryOutcome.DONE, DeliveryOutcome.DONE]
    assert await _ledger(resources, tenant) == []


async def test_a_refund_that_overtakes_its_order_waits_for_the_award(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await _configure(resources, tenant)
    order = order_payload(2009, lines=[(21, 2, "10.00")], customer_id=908, email="o@example.com")

    await _send(edge, tenant, "refunds/create", refund_payload(88, 2009, [(21, 1, "10.00")]))
    assert await process_pending(resources, tenant.merchant_id) == [DeliveryOutcome.RETRYING]
    [waiting] = await inbox(resources, tenant.merchant_id)
    assert waiting["status"] == "pending"
    assert "has not earned" in waiting["last_error"]

    await _send(edge, tenant, "orders/create", order)
    await process_pending(resources, tenant.merchant_id)  # the order earns; the refund waits
    async with system_unit_of_work(resources.sessions) as session:  # its retry time comes
        await session.execute(
            text("UPDATE api_logs SET next_attempt_at = now() WHERE id = :id"),
            {"id": waiting["id"]},
        )
    await process_pending(resources, tenant.merchant_id)

    assert await _ledger(resources, tenant) == [("earn", 200, "2009"), ("reverse", -100, "2009")]
    assert {row["status"] for row in await inbox(resources, tenant.merchant_id)} == {"done"}


async def test_customers_update_keeps_the_contact_details_current(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await _send(edge, tenant, "customers/create", customer_payload(909, "old@example.com"))
    await _send(
        edge,
        tenant,
        "customers/update",
        customer_payload(909, "New@Example.com", phone="+15550001111"),
    )
    await process_pending(resources, tenant.merchant_id)

    customer = await _customer(resources, tenant, "909")
    assert customer is not None
    assert resources.cipher.decrypt(customer.email_encrypted, context=CUSTOMERS_EMAIL) == (
        "new@example.com"
    )
    assert customer.country_code == "GB"
    assert customer.points_balance == 200  # signup, once


async def test_app_uninstalled_forgets_the_access_token_and_keeps_the_program(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    async with system_unit_of_work(resources.sessions) as session:
        await session.execute(
            text("UPDATE merchants SET api_token_encrypted = 'v1:x:y' WHERE id = :id"),
            {"id": tenant.merchant_id},
        )
    await _send(edge, tenant, "customers/create", customer_payload(910, "stay@example.com"))
    await _send(edge, tenant, "app/uninstalled", {"id": 1, "domain": tenant.shop_domain})
    await process_pending(resources, tenant.merchant_id)

    async with system_unit_of_work(resources.sessions) as session:
        merchant = await session.get(Merchant, tenant.merchant_id)
    assert merchant is not None
    assert merchant.uninstalled_at is not None
    assert merchant.api_token_encrypted is None
    assert await _customer(resources, tenant, "910") is not None


async def test_copies_of_one_signup_racing_each_other_all_succeed_at_once(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    # Shopify resends, and sends customers/create and orders/create for a new customer at
    # the same moment: the first enrols them, the others find them (no failed attempts).
    for _ in range(8):
        await _send(edge, tenant, "customers/create", customer_payload(4242, "race@example.com"))
    await _send(
        edge,
        tenant,
        "orders/create",
        order_payload(9100, lines=[(1, 1, "10.00")], customer_id=4242, email="race@example.com"),
    )
    pending = [row["id"] for row in await inbox(resources, tenant.merchant_id)]

    outcomes = await asyncio.gather(
        *(process_delivery(resources, tenant.merchant_id, row_id) for row_id in pending)
    )

    assert set(outcomes) == {DeliveryOutcome.DONE}
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        customers = list(await session.scalars(select(Customer.id)))
        signups = await session.scalar(
            select(func.count()).where(PointsTransaction.idempotency_key.like("customer:%:signup"))
        )
    assert len(customers) == 1
    assert signups == 1
