"""The shim's inbox stores the deliveries of one merchant that arrive together in one call
(``gateway.edge.webhooks.inbox``): one commit for all, each webhook id once, and a delivery
that cannot be stored fails alone."""

from __future__ import annotations

import asyncio
import uuid

from gateway.edge.webhooks.inbox import Inbox
from subgraphs.admin.deliveries.repository import NewDelivery
from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, Tenant
from tests.gateway.webhooks.shopify import inbox


def delivery(webhook_id: str, *, payload_bytes: int = 2) -> NewDelivery:
    return NewDelivery(
        id=str(uuid.uuid4()),
        topic="orders/paid",
        webhook_id=webhook_id,
        event_id=None,
        triggered_at=None,
        api_version="2025-10",
        payload_encrypted="not read here",
        payload_bytes=payload_bytes,
        shopify_customer_id=None,
    )


async def test_deliveries_handed_over_together_are_stored_in_one_statement_each_once(
    resources: Resources, tenant: Tenant, count_statements: StatementCounter
) -> None:
    webhook_ids = [str(uuid.uuid4()) for _ in range(12)]
    # 16 deliveries, 4 of them a second copy of a webhook id (Shopify resends).
    deliveries = [delivery(webhook_ids[n % 12]) for n in range(16)]
    shared = Inbox(resources)
    before = count_statements.count

    # Handed over before any lane runs, as requests arriving while a commit is under way.
    stored = await asyncio.gather(*(shared.store(tenant.merchant_id, d) for d in deliveries))
    statements = count_statements.count - before

    assert sum(stored) == 12
    rows = await inbox(resources, tenant.merchant_id)
    assert sorted(row["webhook_id"] for row in rows) == sorted(webhook_ids)
    kept = {d.id for d, stored_now in zip(deliveries, stored, strict=True) if stored_now}
    assert {row["id"] for row in rows} == kept
    assert {row["status"] for row in rows} == {"pending"}
    assert statements == 1


async def test_a_delivery_that_cannot_be_stored_fails_alone(
    resources: Resources, tenant: Tenant
) -> None:
    good = [delivery(str(uuid.uuid4())) for _ in range(4)]
    # More than the column's integer holds: the batch's statement fails, and then this one.
    bad = delivery(str(uuid.uuid4()), payload_bytes=2**40)
    shared = Inbox(resources)

    outcomes = await asyncio.gather(
        *(shared.store(tenant.merchant_id, d) for d in [good[0], good[1], bad, *good[2:]]),
        return_exceptions=True,
    )

    assert [outcomes[n] for n in (0, 1, 3, 4)] == [True] * 4
    assert isinstance(outcomes[2], Exception)
    rows = await inbox(resources, tenant.merchant_id)
    assert {row["id"] for row in rows} == {d.id for d in good}
