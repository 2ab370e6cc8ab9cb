"""The worker's batches (worker.webhooks.processing.process_deliveries and
worker.webhooks.batches): one transaction for many deliveries, each still exactly once, and a
bad neighbour failing alone; and how the worker hears of them (worker.webhooks.wakeups)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import text

from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.program.service import update_program_config
from tests.conftest import StatementCounter, Tenant
from tests.gateway.webhooks.shopify import deliver, inbox, order_payload, refund_payload
from worker.webhooks.batches import LANES, MAX_BATCH, DeliveryBatches
from worker.webhooks.processing import DeliveryOutcome, process_deliveries
from worker.webhooks.wakeups import APPLICATION_NAME, InboxListener


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


async def _due(resources: Resources, delivery_id: str, seconds_from_now: float) -> None:
    """Set when a delivery is due: in the past orders a backlog, in the future is a retry
    waiting for its time."""
    async with system_unit_of_work(resources.sessions) as session:
        await session.execute(
            text(
                "UPDATE api_logs SET next_attempt_at = now() + make_interval(secs => :s)"
                " WHERE id = :id"
            ),
            {"id": delivery_id, "s": seconds_from_now},
        )


async def _backlog(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant, first: int, count: int
) -> list[str]:
    """``count`` paid orders waiting for the worker, the first the oldest due."""
    sent = await _orders(edge, tenant, first, count)
    for age, delivery_id in enumerate(sent):
        await _due(resources, delivery_id, -1000.0 + age)
    return sent


async def test_a_batch_with_room_takes_the_merchants_oldest_due_deliveries(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    """Under a backlog a batch is not limited to the jobs that have started: it fills its
    room with the merchant's deliveries that are due, oldest first, and leaves alone another
    merchant's, a retry not due yet, and a row another worker holds."""
    await _flat_earning(resources, tenant)
    sent = await _backlog(edge, resources, tenant, 74_000, 7)
    not_due_yet = sent[1]
    await _due(resources, not_due_yet, 60.0)
    theirs = await _orders(edge, other_tenant, 74_100, 2)
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
    earns, orders, balances, _ = await _ledger_state(resources, tenant)
    assert (earns, orders, balances) == (5, 5, 5 * 100)


async def test_the_jobs_of_deliveries_a_batch_took_ahead_end_without_a_claim(
    edge: httpx.AsyncClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    await _flat_earning(resources, tenant)
    sent = await _backlog(edge, resources, tenant, 75_000, 6)
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
    earns, orders, balances, _ = await _ledger_state(resources, tenant)
    assert (earns, orders, balances) == (6, 6, 6 * 100)


async def test_an_abandoned_batch_processes_what_it_took_ahead_on_its_own_too(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    """A handler raising rolls the whole batch back; the deliveries it took with its room are
    not left for jobs that may never see them work (their job may have ended already)."""
    await _flat_earning(resources, tenant)
    sent = await _backlog(edge, resources, tenant, 76_000, 4)
    early_refund = await _send(
        edge, tenant, "refunds/create", refund_payload(7_778, 76_950, [(769_500, 1, "5.00")])
    )
    await _due(resources, early_refund, -2000.0)  # the oldest of the backlog

    outcomes = await process_deliveries(resources, tenant.merchant_id, [sent[0]], room=10)

    assert outcomes == {
        sent[0]: DeliveryOutcome.DONE,
        early_refund: DeliveryOutcome.RETRYING,
        **dict.fromkeys(sent[1:], DeliveryOutcome.DONE),
    }
    rows = {row["id"]: row for row in await inbox(resources, tenant.merchant_id)}
    assert {rows[delivery_id]["status"] for delivery_id in sent} == {"done"}
    assert rows[early_refund]["status"] == "pending"
    earns, orders, balances, _ = await _ledger_state(resources, tenant)
    assert (earns, orders, balances) == (4, 4, 4 * 100)


async def _until_done(resources: Resources, tenant: Tenant, sent: list[str]) -> None:
    """Wait (a few seconds at most) until every one of ``sent`` is done."""
    for _ in range(200):
        rows = {row["id"]: row["status"] for row in await inbox(resources, tenant.merchant_id)}
        if {rows[delivery_id] for delivery_id in sent} == {"done"}:
            return
        await asyncio.sleep(0.05)
    left = sum(rows[delivery_id] != "done" for delivery_id in sent)
    raise AssertionError(f"{left} of {len(sent)} deliveries not done")


async def test_a_wake_drains_the_merchants_due_deliveries_in_full_batches(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    """A notification names a merchant, not a delivery: its drain takes the due deliveries a
    batch at a time until none is left (here more than two batches' room), and leaves another
    merchant's and a retry not due yet alone."""
    await _flat_earning(resources, tenant)
    sent = await _backlog(edge, resources, tenant, 77_000, 2 * MAX_BATCH + 7)
    not_due_yet = sent.pop()
    await _due(resources, not_due_yet, 60.0)
    theirs = await _orders(edge, other_tenant, 77_500, 2)
    batches_before = _histogram("loyalnest_worker_batch_size")

    DeliveryBatches(resources).wake(tenant.merchant_id)
    await _until_done(resources, tenant, sent)

    rows = {row["id"]: row["status"] for row in await inbox(resources, tenant.merchant_id)}
    assert rows[not_due_yet] == "pending"
    theirs_now = {
        row["id"]: row["status"] for row in await inbox(resources, other_tenant.merchant_id)
    }
    assert [theirs_now[delivery_id] for delivery_id in theirs] == ["pending", "pending"]
    earns, orders, balances, _ = await _ledger_state(resources, tenant)
    assert (earns, orders, balances) == (len(sent), len(sent), len(sent) * 100)
    batches, in_them = (
        now - before
        for now, before in zip(
            _histogram("loyalnest_worker_batch_size"), batches_before, strict=True
        )
    )
    # Full batches, not one per delivery: three for the 106, one more for each extra lane
    # whose claim interleaved with another's; a look that finds nothing makes none.
    assert in_them == len(sent)
    assert 3 <= batches <= 3 + LANES - 1, batches


@contextlib.asynccontextmanager
async def _listening(resources: Resources, tenant: Tenant) -> AsyncIterator[InboxListener]:
    """An inbox listener feeding batches of this test's merchant only (other tests' merchants
    may have deliveries pending: theirs are not this test's), listening for the block."""
    batches = DeliveryBatches(resources)

    def wake(merchant_id: str) -> None:
        if merchant_id == tenant.merchant_id:
            batches.wake(merchant_id)

    listener = InboxListener(resources, wake)
    listening = asyncio.create_task(listener.run())
    try:
        await asyncio.wait_for(listener.listening.wait(), timeout=10)
        yield listener
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening


async def test_the_worker_hears_of_deliveries_and_of_those_stored_before_it_listened(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    """The inbox's commit wakes the worker through Postgres (no job per delivery): what the
    shim stores is processed at once, and what was stored while no worker listened is taken
    as soon as one does."""
    await _flat_earning(resources, tenant)
    before = await _orders(edge, tenant, 78_000, 3)

    async with _listening(resources, tenant):
        await _until_done(resources, tenant, before)
        after = await _orders(edge, tenant, 78_100, 4)
        await _until_done(resources, tenant, after)

    earns, orders, balances, _ = await _ledger_state(resources, tenant)
    assert (earns, orders, balances) == (7, 7, 7 * 100)


async def test_a_listener_cut_off_listens_again_and_takes_what_it_missed(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    """Postgres closing the listening connection (a restart, a failover) loses the
    notifications sent meanwhile: the listener connects again at once and takes what was
    stored while it was away."""
    await _flat_earning(resources, tenant)

    async with _listening(resources, tenant) as listener:
        async with system_unit_of_work(resources.sessions) as session:
            cut = await session.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            )
        assert cut == 1
        for _ in range(200):  # it notices at once, not at its next ping (10 s)
            if not listener.listening.is_set():
                break
            await asyncio.sleep(0.01)
        assert not listener.listening.is_set()
        assert REGISTRY.get_sample_value("loyalnest_worker_inbox_listening") == 0
        missed = await _orders(edge, tenant, 78_200, 3)
        await _until_done(resources, tenant, missed)
        after = await _orders(edge, tenant, 78_300, 2)
        await _until_done(resources, tenant, after)
        # An operator sees it listening again.
        assert REGISTRY.get_sample_value("loyalnest_worker_inbox_listening") == 1
    earns, orders, balances, _ = await _ledger_state(resources, tenant)
    assert (earns, orders, balances) == (5, 5, 5 * 100)
