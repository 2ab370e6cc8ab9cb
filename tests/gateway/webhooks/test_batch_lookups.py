"""What a worker batch asks Postgres once for all its deliveries, instead of once a delivery
(worker.webhooks.processing.process_deliveries): who its Shopify customers are, and which of
its buyers nobody referred; and that a referral made inside the batch is still seen."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text

from db.session import tenant_unit_of_work
from subgraphs.kit.pubsub import webhook_channel
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.referrals.program.service import update_referral_program
from subgraphs.referrals.service import create_referral_link
from tests.conftest import StatementCounter, Tenant, add_customer
from tests.gateway.webhooks.shopify import deliver, order_payload
from tests.gateway.webhooks.test_batch_order_facts import BUYERS, _program, _send_all
from worker.webhooks.processing import DeliveryOutcome, process_deliveries, process_delivery


async def test_a_batch_asks_once_who_its_customers_are_and_not_for_the_referral_program(
    edge: httpx.AsyncClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    """Every step of an order (points, referrals, analytics) needs our customer of its Shopify
    id: for customers already enrolled, a batch looks them all up in one statement. And the
    referral step reads the program's settings only for a friend whose referral is pending."""
    await _program(resources, tenant)
    await process_deliveries(resources, tenant.merchant_id, await _send_all(edge, tenant))
    later = []
    for n, buyer in enumerate(BUYERS):
        order = 97_000 + n
        payload = order_payload(order, lines=[(order * 10, 1, "25.00")], customer_id=buyer)
        response = await deliver(edge, "orders/paid", payload, shop=tenant.shop_domain)
        later.append(str(response.json()["deliveryId"]))

    count_statements.statements.clear()
    outcomes = await process_deliveries(resources, tenant.merchant_id, later)

    assert set(outcomes.values()) == {DeliveryOutcome.DONE}
    lookups = [
        statement
        for statement in count_statements.statements
        if statement.startswith("SELECT customers.")
        and "customers.shopify_customer_id" in statement.split("WHERE", 1)[-1]
    ]
    assert len(lookups) == 1, lookups
    assert not [
        statement for statement in count_statements.statements if "program_settings" in statement
    ]
    referral_reads = [s for s in count_statements.statements if "FROM referrals" in s]
    assert len(referral_reads) == 1, referral_reads


async def test_a_customer_referred_by_an_order_of_the_batch_completes_their_referral(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    """The batch learnt the buyer was not referred; their order carries a referral code, which
    refers them, and the same order (over the minimum) completes the referral."""
    advocate_id = await add_customer(resources, tenant, email="advocate@example.com")
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        link = await create_referral_link(session, tenant.merchant_id, advocate_id)
        await update_referral_program(
            WriteContext(session, tenant.merchant_id), {"min_order_amount": "20"}
        )
    first = order_payload(98_001, lines=[(980_010, 1, "5.00")], customer_id=9_501, email="f@x.io")
    response = await deliver(edge, "orders/paid", first, shop=tenant.shop_domain)
    delivery_id = response.json()["deliveryId"]
    assert await process_delivery(resources, tenant.merchant_id, delivery_id) is (
        DeliveryOutcome.DONE
    )
    referred = order_payload(98_002, lines=[(980_020, 1, "50.00")], customer_id=9_501)
    referred["note_attributes"] = [{"name": "referral_code", "value": link.link.code}]
    other = order_payload(98_003, lines=[(980_030, 1, "50.00")], customer_id=9_502)
    batch = []
    for payload in (referred, other):
        response = await deliver(edge, "orders/paid", payload, shop=tenant.shop_domain)
        batch.append(str(response.json()["deliveryId"]))

    outcomes = await process_deliveries(resources, tenant.merchant_id, batch)

    assert set(outcomes.values()) == {DeliveryOutcome.DONE}
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        statuses = list(await session.scalars(text("SELECT status FROM referrals")))
    assert statuses == ["completed"]


async def test_a_batch_tells_live_subscribers_each_delivery_in_one_round_trip(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    """The admin's live inbox gets one "done" event per delivery of a batch, in the batch's
    order, published together after the commit."""
    sent = await _send_all(edge, tenant)
    async with resources.pubsub.subscribe(webhook_channel(tenant.merchant_id)) as events:
        outcomes = await process_deliveries(resources, tenant.merchant_id, sent)
        received = [await asyncio.wait_for(anext(events), timeout=5) for _ in sent]

    assert set(outcomes.values()) == {DeliveryOutcome.DONE}
    assert {event["deliveryId"] for event in received} == set(sent)
    assert {(event["event"], event["status"], event["attempts"]) for event in received} == {
        ("done", "done", 1)
    }
    assert all("order fact recorded" in event["detail"] for event in received)
