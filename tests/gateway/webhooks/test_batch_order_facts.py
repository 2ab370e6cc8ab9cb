"""A batch's order facts are recorded together (worker.analytics.webhooks.OrderFactsBatch), and
the batch still earns, scores and records exactly what the same deliveries processed one at a
time do: an earn reads its customer's segment with their earlier orders of the batch in it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from structlog.testing import capture_logs

from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.program.service import update_program_config
from tests.conftest import StatementCounter, Tenant
from tests.gateway.webhooks.shopify import deliver, inbox, order_payload
from worker.webhooks.processing import DeliveryOutcome, process_deliveries, process_delivery

BUYERS = (9_301, 9_302, 9_303)
GUEST_ORDER = 95_001


async def _program(resources: Resources, tenant: Tenant) -> None:
    """A "New" customer (one recent order) earns double: the second order of a buyer earns
    it only if their first order's fact and rescore came before it."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_program_config(
            WriteContext(session, tenant.merchant_id),
            {"first_purchase": None, "rfm_multipliers": {"New": 2}},
        )


async def _send_all(edge: httpx.AsyncClient, tenant: Tenant) -> list[str]:
    """Three orders each for three buyers, and a guest's order twice (created, then paid).
    One after another, so the inbox ids (and the batch's order) are the same in every shop."""
    sent: list[tuple[str, dict[str, Any]]] = []
    for round_ in range(3):
        for n, buyer in enumerate(BUYERS):
            order = 90_000 + buyer * 10 + round_
            price = f"{(n + 1) * 40 + round_ * 15}.00"
            payload = order_payload(
                order, lines=[(order * 10, 1, price)], customer_id=buyer, email=f"b{buyer}@x.io"
            )
            sent.append(("orders/paid", payload))
    guest = order_payload(GUEST_ORDER, lines=[(GUEST_ORDER * 10, 2, "30.00")])
    sent += [("orders/create", guest), ("orders/paid", guest)]
    ids = []
    for topic, payload in sent:
        response = await deliver(edge, topic, payload, shop=tenant.shop_domain)
        assert response.status_code == 200, response.text
        ids.append(str(response.json()["deliveryId"]))
    return ids


async def _state(resources: Resources, tenant: Tenant) -> dict[str, Any]:
    """What the deliveries left, by Shopify's ids (comparable across shops)."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        earned = await session.execute(
            text(
                "SELECT t.order_id, t.points FROM points_transactions t"
                " WHERE t.kind = 'earn' ORDER BY t.order_id"
            )
        )
        customers = await session.execute(
            text(
                "SELECT shopify_customer_id, points_balance, rfm_segment, rfm_score::text,"
                " orders_count FROM customers ORDER BY shopify_customer_id"
            )
        )
        facts = await session.execute(
            text(
                "SELECT o.shopify_order_id, c.shopify_customer_id, o.total, o.paid_at IS NOT NULL"
                " FROM orders o LEFT JOIN customers c ON c.id = o.customer_id"
                " ORDER BY o.shopify_order_id"
            )
        )
        history = await session.scalar(text("SELECT count(*) FROM rfm_score_history"))
        doubled = await session.scalar(
            text(
                "SELECT count(*) FROM points_transactions"
                " WHERE kind = 'earn' AND explanation::text LIKE '%New earn x2%'"
            )
        )
    return {
        "earned": [tuple(row) for row in earned],
        "customers": [tuple(row) for row in customers],
        "facts": [tuple(row) for row in facts],
        "history rows": history,
        "earns for a New customer": doubled,
    }


async def test_a_batch_records_its_order_facts_together_and_earns_as_one_at_a_time(
    edge: httpx.AsyncClient,
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    for shop in (tenant, other_tenant):
        await _program(resources, shop)
    batched = await _send_all(edge, tenant)
    one_by_one = await _send_all(edge, other_tenant)

    count_statements.statements.clear()
    with capture_logs() as logs:
        outcomes = await process_deliveries(resources, tenant.merchant_id, batched)
    batch_statements = len(count_statements.statements)
    assert set(outcomes.values()) == {DeliveryOutcome.DONE}
    assert not [entry for entry in logs if entry["event"] == "webhook_batch_abandoned"]
    details = {
        entry["delivery_id"]: entry["detail"]
        for entry in logs
        if entry["event"] == "webhook_processed"
    }
    assert all("order fact recorded" in details[delivery_id] for delivery_id in batched)

    # The other shop, one delivery at a time in the batch's order (by customer, then id).
    rows = {row["id"]: row for row in await inbox(resources, other_tenant.merchant_id)}
    ordered = sorted(one_by_one, key=lambda id_: (rows[id_]["shopify_customer_id"] or "", id_))
    count_statements.statements.clear()
    for delivery_id in ordered:
        assert await process_delivery(resources, other_tenant.merchant_id, delivery_id) is (
            DeliveryOutcome.DONE
        )
    alone_statements = len(count_statements.statements)

    state = await _state(resources, tenant)
    assert state == await _state(resources, other_tenant)
    # Each buyer's second order earned as a New customer: the comparison above can tell a
    # segment read before the buyer's first order was scored.
    assert state["earns for a New customer"] == len(BUYERS)
    assert len(state["facts"]) == len(BUYERS) * 3 + 1
    assert Decimal(str(dict((f[0], f[2]) for f in state["facts"])[str(GUEST_ORDER)])) == 60
    # Two statements (the facts, the rescore) for each run of buyers, not two per order.
    assert batch_statements < alone_statements - len(batched)
