"""How the worker hears of deliveries (worker.webhooks.wakeups) and drains them
(``DeliveryBatches.wake``): the inbox's commit notifies it through Postgres, no job per
delivery."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import text

from db.session import system_unit_of_work
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant
from tests.gateway.webhooks.backlog import (
    backlog,
    due,
    flat_earning,
    histogram,
    ledger_state,
    paid_orders,
    until_done,
)
from tests.gateway.webhooks.shopify import inbox
from worker.webhooks.batches import LANES, MAX_BATCH, DeliveryBatches
from worker.webhooks.wakeups import APPLICATION_NAME, InboxListener


async def test_a_wake_drains_the_merchants_due_deliveries_in_full_batches(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    """A notification names a merchant, not a delivery: its drain takes the due deliveries a
    batch at a time until none is left (here more than two batches' room), and leaves another
    merchant's and a retry not due yet alone."""
    await flat_earning(resources, tenant)
    sent = await backlog(edge, resources, tenant, 77_000, 2 * MAX_BATCH + 7)
    not_due_yet = sent.pop()
    await due(resources, not_due_yet, 60.0)
    theirs = await paid_orders(edge, other_tenant, 77_500, 2)
    batches_before = histogram("loyalnest_worker_batch_size")

    DeliveryBatches(resources).wake(tenant.merchant_id)
    await until_done(resources, tenant, sent)

    rows = {row["id"]: row["status"] for row in await inbox(resources, tenant.merchant_id)}
    assert rows[not_due_yet] == "pending"
    theirs_now = {
        row["id"]: row["status"] for row in await inbox(resources, other_tenant.merchant_id)
    }
    assert [theirs_now[delivery_id] for delivery_id in theirs] == ["pending", "pending"]
    earns, orders, balances, _ = await ledger_state(resources, tenant)
    assert (earns, orders, balances) == (len(sent), len(sent), len(sent) * 100)
    batches, in_them = (
        now - before
        for now, before in zip(
            histogram("loyalnest_worker_batch_size"), batches_before, strict=True
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
    await flat_earning(resources, tenant)
    before = await paid_orders(edge, tenant, 78_000, 3)

    async with _listening(resources, tenant):
        await until_done(resources, tenant, before)
        after = await paid_orders(edge, tenant, 78_100, 4)
        await until_done(resources, tenant, after)

    earns, orders, balances, _ = await ledger_state(resources, tenant)
    assert (earns, orders, balances) == (7, 7, 7 * 100)


async def test_a_listener_cut_off_listens_again_and_takes_what_it_missed(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    """Postgres closing the listening connection (a restart, a failover) loses the
    notifications sent meanwhile: the listener connects again at once and takes what was
    stored while it was away."""
    await flat_earning(resources, tenant)

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
        missed = await paid_orders(edge, tenant, 78_200, 3)
        await until_done(resources, tenant, missed)
        after = await paid_orders(edge, tenant, 78_300, 2)
        await until_done(resources, tenant, after)
        # An operator sees it listening again.
        assert REGISTRY.get_sample_value("loyalnest_worker_inbox_listening") == 1
    earns, orders, balances, _ = await ledger_state(resources, tenant)
    assert (earns, orders, balances) == (5, 5, 5 * 100)
