"""The worker's batches (worker.webhooks.processing.process_deliveries and
worker.webhooks.batches): one transaction for many deliveries, each still exactly once, and a
bad neighbour failing alone."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import text

from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.program.service import update_program_config
from tests.conftest import StatementCounter, Tenant
from tests.gateway.webhooks.shopify import deliver, inbox, order_payload, refund_payload
from worker.webhooks.batches import DeliveryBatches
from worker.webhooks.processing import DeliveryOutcome, process_deliveries


async def _send(edge: httpx.AsyncClient, tenant: Tenant, topic: str, payload: Any) -> str:
    response = await deliver(edge, topic, payload, shop=tenant.shop_domain)
    assert response.status_code == 200, response.text
    return str(response.json()["deliveryId"])


async def _orders(edge: httpx.AsyncClient, tenant: Tenant, first: int, count: int) -> list[str]:
    async with asyncio.TaskGroup() as group:
        sent = [
            group.create_task(
                _send(
                    edge,
                    tenant,
                    "orders/paid",
                    order_payload(
                        first + n,
                        lines=[((first + n) * 10, 1, "10.00")],
                        customer_id=9_100 + n % 4,
                        email=f"batch{n % 4}@example.com",
                    ),
                )
            )
            for n in range(count)
        ]
    return [task.result() for task in sent]


async def _ledger_state(resources: Resources, tenant: Tenant) -> tuple[int, int, int, int]:
    """(earn rows, distinct orders earned, sum of balances, signed ledger sum = open lots)."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        row = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM points_transactions WHERE kind = 'earn'),"
                    " (SELECT count(DISTINCT order_id) FROM points_transactions"
                    "  WHERE kind = 'earn'),"
                    " (SELECT coalesce(sum(points_balance), 0) FROM customers),"
                    " (SELECT coalesce(sum(points), 0) FROM points_transactions),"
                    " (SELECT coalesce(sum(remaining_points), 0) FROM points_transactions)"
                )
            )
        ).one()
    earns, orders, balances, ledger, lots = (int(value) for value in row)
    assert ledger == lots, (ledger, lots)
    return earns, orders, balances, ledger


async def _flat_earning(resources: Resources, tenant: Tenant) -> None:
    """10 points per dollar and nothing else: no first-purchase bonus, and no RFM multiplier
    (the order facts make a frequent buyer a Champion part-way through, at a moment that
    depends on which batch runs first)."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_program_config(
            WriteContext(session, tenant.merchant_id),
            {"first_purchase": None, "rfm_multipliers": {}},
        )


async def test_a_batch_applies_each_delivery_once_and_a_bad_neighbour_fails_alone(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await _flat_earning(resources, tenant)
    good = await _orders(edge, tenant, 71_000, 6)
    # Refused before its handler runs: text Postgres cannot store.
    unusable = await _send(
        edge,
        tenant,
        "orders/paid",
        order_payload(71_900, lines=[(719_000, 1, "5.00")], customer_id=9_199, email="a\x00@x.io"),
    )
    # Its handler raises: a refund ahead of its order (retried later).
    early_refund = await _send(
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
    earned = await _ledger_state(resources, tenant)
    assert earned[:2] == (6, 6)
    assert earned[2] == earned[3] == 6 * 100

    # The same batch again (a duplicate job, a sweep): nothing is claimed twice.
    again = await process_deliveries(resources, tenant.merchant_id, batch)
    assert set(again.values()) == {DeliveryOutcome.SKIPPED}
    assert await _ledger_state(resources, tenant) == earned


async def test_concurrent_jobs_share_batches_and_every_order_earns_once(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    await _flat_earning(resources, tenant)
    sent = await _orders(edge, tenant, 72_000, 30)
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
    earns, orders, balances, ledger = await _ledger_state(resources, tenant)
    assert (earns, orders) == (30, 30)
    assert balances == ledger == 30 * 100


def _histogram(name: str) -> tuple[float, float]:
    """(observations, their sum) of one of the worker's histograms, so far in this process."""
    count = REGISTRY.get_sample_value(f"{name}_count") or 0.0
    total = REGISTRY.get_sample_value(f"{name}_sum") or 0.0
    return count, total


async def test_the_worker_measures_its_batches_and_how_long_deliveries_waited(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    """An operator tells a backlog (deliveries waiting ever longer) from a quiet worker, and
    sees how full the batches run."""
    await _flat_earning(resources, tenant)
    sent = await _orders(edge, tenant, 73_000, 5)
    await asyncio.sleep(0.3)  # accepted, then waiting for a worker
    batches_before = _histogram("loyalnest_worker_batch_size")
    waits_before = _histogram("loyalnest_worker_queue_delay_seconds")

    await process_deliveries(resources, tenant.merchant_id, sent)
    # A duplicate job of the same batch claims nothing: it waited for nothing.
    await process_deliveries(resources, tenant.merchant_id, sent)

    batches = _histogram("loyalnest_worker_batch_size")
    waits = _histogram("loyalnest_worker_queue_delay_seconds")
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
    sent = await _orders(edge, tenant, 73_000, 8)
    assert set((await process_deliveries(resources, tenant.merchant_id, sent)).values()) == {
        DeliveryOutcome.DONE
    }
    before = count_statements.count

    # Done already (a duplicate job, a sweep): the claim finds nothing, and that is all.
    again = await process_deliveries(resources, tenant.merchant_id, sent)

    assert set(again.values()) == {DeliveryOutcome.SKIPPED}
    assert count_statements.count - before == 1
