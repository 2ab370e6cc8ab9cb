"""The worker's batches (worker.webhooks.processing.process_deliveries and
worker.webhooks.batches): one transaction for many deliveries, each still exactly once, and a
bad neighbour failing alone."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text

from db.session import system_unit_of_work
from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, Tenant
from tests.gateway.webhooks.backlog import (
    backlog,
    due,
    flat_earning,
    histogram,
    ledger_state,
    paid_orders,
    send,
)
from tests.gateway.webhooks.shopify import inbox, order_payload, refund_payload
from worker.webhooks.batches import DeliveryBatches
from worker.webhooks.processing import DeliveryOutcome, process_deliveries


async def test_a_batch_applies_each_delivery_once_and_a_bad_neighbour_fails_alone(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await flat_earning(resources, tenant)
    good = await paid_orders(edge, tenant, 71_000, 6)
    # Refused before its handler runs: text Postgres cannot store.
    unusable = await send(
        edge,
        tenant,
        "orders/paid",
        order_payload(71_900, lines=[(719_000, 1, "5.00")], customer_id=9_199, email="a\x00@x.io"),
    )
    # Its handler raises: a refund ahead of its order (retried later).
    early_refund = await send(
        edge, tenant, "refunds/create", refund_payload(7_777, 71_950, [(719_500, 1, "5.00")])
    )
    batch = [good[0], good[1], unusable, good[2], early_refund, good[3], good[4], good[5]]

    outcomes = await process_deliveries(resources, tenant.merchant_id, batch)

    assert {outcomes[delivery_id] for delivery_id in good} == {DeliveryOutcome.DONE}
    assert outcomes[unusable] is DeliveryOutcome.FAILED
    assert outcomes[early_refund] is DeliveryOutcome.RETRYING
    rows = {row["id"]: row for row in await inbox(resources, tenant.merchant_id)}
    assert {rows[delivery_id]["status"] for delivery_id in good} == {"done"}
    assert {rows[delivery_id]["attempts"] for delivery_id in good} == {1}
    assert rows[unusable]["status"] == "failed"
    assert rows[early_refund]["status"] == "pending"
    assert "has not earned" in rows[early_refund]["last_error"]
    earned = await ledger_state(resources, tenant)
    assert earned[:2] == (6, 6)
    assert earned[2] == earned[3] == 6 * 100

    # The same batch again (a duplicate job, a sweep): nothing is claimed twice.
    again = await process_deliveries(resources, tenant.merchant_id, batch)
    assert set(again.values()) == {DeliveryOutcome.SKIPPED}
    assert await ledger_state(resources, tenant) == earned


async def test_concurrent_jobs_share_batches_and_every_order_earns_once(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await flat_earning(resources, tenant)
    sent = await paid_orders(edge, tenant, 72_000, 30)
    batches = DeliveryBatches(resources)

    # As arq would: one job per delivery, all at once, and a duplicate job for some of them.
    outcomes = await asyncio.gather(
        *(batches.process(tenant.merchant_id, delivery_id) for delivery_id in sent),
        *(batches.process(tenant.merchant_id, delivery_id) for delivery_id in sent[:5]),
    )

    assert set(outcomes[: len(sent)]) | set(outcomes[len(sent) :]) <= {
        DeliveryOutcome.DONE,
        DeliveryOutcome.SKIPPED,
    }
    rows = {row["id"]: row for row in await inbox(resources, tenant.merchant_id)}
    assert {rows[delivery_id]["status"] for delivery_id in sent} == {"done"}
    assert {rows[delivery_id]["attempts"] for delivery_id in sent} == {1}
    earns, orders, balances, ledger = await ledger_state(resources, tenant)
    assert (earns, orders) == (30, 30)
    assert balances == ledger == 30 * 100


async def test_the_worker_measures_its_batches_and_how_long_deliveries_waited(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    """An operator tells a backlog (deliveries waiting ever longer) from a quiet worker, and
    sees how full the batches run."""
    await flat_earning(resources, tenant)
    sent = await paid_orders(edge, tenant, 73_000, 5)
    await asyncio.sleep(0.3)  # accepted, then waiting for a worker
    batches_before = histogram("loyalnest_worker_batch_size")
    waits_before = histogram("loyalnest_worker_queue_delay_seconds")

    await process_deliveries(resources, tenant.merchant_id, sent)
    # A duplicate job of the same batch claims nothing: it waited for nothing.
    await process_deliveries(resources, tenant.merchant_id, sent)

    batches = histogram("loyalnest_worker_batch_size")
    waits = histogram("loyalnest_worker_queue_delay_seconds")
    assert batches[0] - batches_before[0] == 2
    assert batches[1] - batches_before[1] == 10  # two batches of five
    assert waits[0] - waits_before[0] == 5  # each delivery once, when it was claimed
    assert waits[1] - waits_before[1] >= 5 * 0.3


async def test_a_batch_claims_its_deliveries_in_one_statement(
    edge: httpx.AsyncClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    sent = await paid_orders(edge, tenant, 73_000, 8)
    assert set((await process_deliveries(resources, tenant.merchant_id, sent)).values()) == {
        DeliveryOutcome.DONE
    }
    before = count_statements.count

    # Done already (a duplicate job, a sweep): the claim finds nothing, and that is all.
    again = await process_deliveries(resources, tenant.merchant_id, sent)

    assert set(again.values()) == {DeliveryOutcome.SKIPPED}
    assert count_statements.count - before == 1


async def test_a_batch_with_room_takes_the_merchants_oldest_due_deliveries(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    """Under a backlog a batch is not limited to the jobs that have started: it fills its
    room with the merchant's deliveries that are due, oldest first, and leaves alone another
    merchant's, a retry not due yet, and a row another worker holds."""
    await flat_earning(resources, tenant)
    sent = await backlog(edge, resources, tenant, 74_000, 7)
    not_due_yet = sent[1]
    await due(resources, not_due_yet, 60.0)
    theirs = await paid_orders(edge, other_tenant, 74_100, 2)
    held = sent[2]

    async with system_unit_of_work(resources.sessions) as other_worker:
        locked = await other_worker.scalars(
            text("SELECT id FROM api_logs WHERE id = :id FOR UPDATE"), {"id": held}
        )
        assert list(locked) == [held]
        first = await process_deliveries(resources, tenant.merchant_id, [sent[6]], room=2)
        # Room for more than is left: what is left due and free.
        rest = await process_deliveries(resources, tenant.merchant_id, [sent[5]], room=10)

    # Asked for the newest; took the two oldest due that nobody holds.
    assert first == dict.fromkeys([sent[6], sent[0], sent[3]], DeliveryOutcome.DONE)
    assert rest == dict.fromkeys([sent[5], sent[4]], DeliveryOutcome.DONE)
    rows = {row["id"]: row["status"] for row in await inbox(resources, tenant.merchant_id)}
    assert [rows[delivery_id] for delivery_id in sent] == [
        "done",
        "pending",
        "pending",
        "done",
        "done",
        "done",
        "done",
    ]
    theirs_now = {
        row["id"]: row["status"] for row in await inbox(resources, other_tenant.merchant_id)
    }
    assert [theirs_now[delivery_id] for delivery_id in theirs] == ["pending", "pending"]
    earns, orders, balances, _ = await ledger_state(resources, tenant)
    assert (earns, orders, balances) == (5, 5, 5 * 100)


async def test_the_jobs_of_deliveries_a_batch_took_ahead_end_without_a_claim(
    edge: httpx.AsyncClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    await flat_earning(resources, tenant)
    sent = await backlog(edge, resources, tenant, 75_000, 6)
    batches = DeliveryBatches(resources)

    # A wake's batch takes the whole backlog before the jobs of any of it (a retry's, an
    # admin's) start.
    batches.wake(tenant.merchant_id)
    await batches.settled()
    rows = {row["id"]: row for row in await inbox(resources, tenant.merchant_id)}
    assert {rows[delivery_id]["status"] for delivery_id in sent} == {"done"}
    before = count_statements.count

    # The jobs start later: each ends at once, without a round trip.
    later = [await batches.process(tenant.merchant_id, delivery_id) for delivery_id in sent]

    assert set(later) == {DeliveryOutcome.SKIPPED}
    assert count_statements.count == before
    # A duplicate job of one of them (arq retries, a sweep) finds the row done: still once.
    assert await batches.process(tenant.merchant_id, sent[1]) is DeliveryOutcome.SKIPPED
    earns, orders, balances, _ = await ledger_state(resources, tenant)
    assert (earns, orders, balances) == (6, 6, 6 * 100)


async def test_an_abandoned_batch_processes_what_it_took_ahead_on_its_own_too(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    """A handler raising rolls the whole batch back; the deliveries it took with its room are
    not left for jobs that may never see them work (their job may have ended already)."""
    await flat_earning(resources, tenant)
    sent = await backlog(edge, resources, tenant, 76_000, 4)
    early_refund = await send(
        edge, tenant, "refunds/create", refund_payload(7_778, 76_950, [(769_500, 1, "5.00")])
    )
    await due(resources, early_refund, -2000.0)  # the oldest of the backlog

    outcomes = await process_deliveries(resources, tenant.merchant_id, [sent[0]], room=10)

    assert outcomes == {
        sent[0]: DeliveryOutcome.DONE,
        early_refund: DeliveryOutcome.RETRYING,
        **dict.fromkeys(sent[1:], DeliveryOutcome.DONE),
    }
    rows = {row["id"]: row for row in await inbox(resources, tenant.merchant_id)}
    assert {rows[delivery_id]["status"] for delivery_id in sent} == {"done"}
    assert rows[early_refund]["status"] == "pending"
    earns, orders, balances, _ = await ledger_state(resources, tenant)
    assert (earns, orders, balances) == (4, 4, 4 * 100)
