"""Points expiry job: after-earning lots and inactivity, on the job's clock; the ledger stays the
truth (balance = signed sum = unspent lots) and running the job again changes nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from db.ids import new_id
from db.models import PointsTransaction, PointsTransactionKind
from db.session import tenant_unit_of_work
from subgraphs.kit.pubsub import ledger_channel
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.expiry.jobs import expire_points, run_expiry
from subgraphs.points.ledger import service as ledger
from subgraphs.points.program.calculation import EarnAction, Order, OrderLine
from subgraphs.points.program.service import Channel, update_program_config
from tests.conftest import Tenant, add_customer
from tests.subgraphs.points.ledger_helpers import LedgerState, ledger_state

DAY = timedelta(days=1)


@pytest.fixture
def t0() -> datetime:
    # Noon UTC: points earned a few hours apart stay on the same expiry day.
    return datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


async def configure(resources: Resources, tenant: Tenant, **changes: Any) -> None:
    """Program settings for a test: the first-purchase multiplier is off so an order earns
    exactly 10 points per dollar."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_program_config(
            WriteContext(session, tenant.merchant_id), {"first_purchase": None, **changes}
        )


async def earn_purchase(
    resources: Resources, tenant: Tenant, customer_id: str, amount: str, *, at: datetime
) -> ledger.LedgerEntry:
    order_id = new_id()
    order = Order(
        order_id=order_id,
        currency="USD",
        lines=(OrderLine(f"{order_id}-1", 1, Decimal(amount)),),
        channel=Channel.ONLINE,
        placed_at=at,
    )
    command = ledger.EarnCommand(customer_id, EarnAction.PURCHASE, f"order:{order_id}", order)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await ledger.earn(session, tenant.merchant_id, command, now=at)


async def redeem(
    resources: Resources, tenant: Tenant, customer_id: str, points: int, *, at: datetime
) -> None:
    command = ledger.PointsMovement(customer_id, points, "reward", f"redeem:{new_id()}", "reward")
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await ledger.redeem(session, tenant.merchant_id, command, now=at)


async def expiry_rows(resources: Resources, tenant: Tenant, customer_id: str) -> list[int]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        result = await session.scalars(
            select(PointsTransaction.points)
            .where(
                PointsTransaction.merchant_id == tenant.merchant_id,
                PointsTransaction.customer_id == customer_id,
                PointsTransaction.kind == PointsTransactionKind.EXPIRE,
            )
            .order_by(PointsTransaction.created_at, PointsTransaction.id)
        )
        return list(result)


async def state(resources: Resources, tenant: Tenant, customer_id: str) -> LedgerState:
    current = await ledger_state(resources, tenant, customer_id)
    assert current.consistent, current
    return current


# --- after earning --------------------------------------------------------------------------


async def test_points_expire_after_earning(
    resources: Resources, tenant: Tenant, t0: datetime
) -> None:
    await configure(resources, tenant, expiry={"kind": "after_earning", "days": 30})
    customer_id = await add_customer(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)

    await run_expiry(resources, now=t0 + 29 * DAY)
    assert (await state(resources, tenant, customer_id)).balance == 100
    assert await expiry_rows(resources, tenant, customer_id) == []

    await run_expiry(resources, now=t0 + 31 * DAY)

    after = await state(resources, tenant, customer_id)
    assert (after.balance, after.ledger_sum, after.open_lots, after.rows) == (0, 0, 0, 2)
    assert await expiry_rows(resources, tenant, customer_id) == [-100]


async def test_rerunning_the_expiry_changes_nothing(
    resources: Resources, tenant: Tenant, t0: datetime
) -> None:
    await configure(resources, tenant, expiry={"kind": "after_earning", "days": 30})
    customer_id = await add_customer(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)
    await run_expiry(resources, now=t0 + 31 * DAY)
    first = await state(resources, tenant, customer_id)

    await run_expiry(resources, now=t0 + 31 * DAY)
    await run_expiry(resources, now=t0 + 60 * DAY)

    assert await state(resources, tenant, customer_id) == first
    assert await expiry_rows(resources, tenant, customer_id) == [-100]


async def test_partially_spent_lots_expire_only_what_is_left(
    resources: Resources, tenant: Tenant, t0: datetime
) -> None:
    await configure(resources, tenant, expiry={"kind": "after_earning", "days": 30})
    customer_id = await add_customer(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)
    await redeem(resources, tenant, customer_id, 30, at=t0 + DAY)
    await earn_purchase(resources, tenant, customer_id, "5.00", at=t0 + 10 * DAY)

    await run_expiry(resources, now=t0 + 31 * DAY)

    # The redemption took from the first lot; only its 70 unspent points expire, the later
    # lot is untouched.
    assert await expiry_rows(resources, tenant, customer_id) == [-70]
    assert (await state(resources, tenant, customer_id)).balance == 50

    await run_expiry(resources, now=t0 + 41 * DAY)

    assert await expiry_rows(resources, tenant, customer_id) == [-70, -50]
    assert (await state(resources, tenant, customer_id)).balance == 0


async def test_many_customers_expire_across_batches(
    resources: Resources, tenant: Tenant, t0: datetime
) -> None:
    await configure(resources, tenant, expiry={"kind": "after_earning", "days": 30})
    customers = [await add_customer(resources, tenant) for _ in range(5)]
    for customer_id in customers:
        await earn_purchase(resources, tenant, customer_id, "1.00", at=t0)
        await earn_purchase(resources, tenant, customer_id, "2.00", at=t0 + DAY)

    summary = await run_expiry(resources, now=t0 + 40 * DAY, batch_size=2)

    assert summary.failed_merchants == []
    for customer_id in customers:
        assert (await state(resources, tenant, customer_id)).balance == 0
        assert await expiry_rows(resources, tenant, customer_id) == [-30]


async def test_points_do_not_expire_once_expiry_is_switched_off(
    resources: Resources, tenant: Tenant, t0: datetime
) -> None:
    await configure(resources, tenant, expiry={"kind": "after_earning", "days": 30})
    customer_id = await add_customer(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)
    await configure(resources, tenant, expiry={"kind": "none", "days": None})

    await run_expiry(resources, now=t0 + 31 * DAY)

    assert (await state(resources, tenant, customer_id)).balance == 100
    assert await expiry_rows(resources, tenant, customer_id) == []


# --- inactivity -----------------------------------------------------------------------------


async def test_whole_balance_expires_after_inactivity(
    resources: Resources, tenant: Tenant, t0: datetime
) -> None:
    await configure(resources, tenant, expiry={"kind": "inactivity", "days": 90})
    idle = await add_customer(resources, tenant)
    active = await add_customer(resources, tenant)
    for customer_id in (idle, active):
        await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)
        await earn_purchase(resources, tenant, customer_id, "2.00", at=t0 + DAY)
    # Spending is activity too.
    await redeem(resources, tenant, active, 20, at=t0 + 60 * DAY)

    await run_expiry(resources, now=t0 + 90 * DAY)
    assert (await state(resources, tenant, idle)).balance == 120

    await run_expiry(resources, now=t0 + 92 * DAY)

    assert (await state(resources, tenant, idle)).balance == 0
    assert await expiry_rows(resources, tenant, idle) == [-120]
    assert (await state(resources, tenant, active)).balance == 100
    assert await expiry_rows(resources, tenant, active) == []

    await run_expiry(resources, now=t0 + 92 * DAY)
    assert await expiry_rows(resources, tenant, idle) == [-120]

    await run_expiry(resources, now=t0 + 151 * DAY)
    assert (await state(resources, tenant, active)).balance == 0
    assert await expiry_rows(resources, tenant, active) == [-100]


# --- the job --------------------------------------------------------------------------------


async def test_expiry_tells_live_subscribers(
    resources: Resources, tenant: Tenant, t0: datetime
) -> None:
    await configure(resources, tenant, expiry={"kind": "after_earning", "days": 30})
    customer_id = await add_customer(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)

    async with resources.pubsub.subscribe(ledger_channel(tenant.merchant_id)) as events:
        await run_expiry(resources, now=t0 + 31 * DAY)
        event = await asyncio.wait_for(anext(events), timeout=5)

    assert event["customer_id"] == customer_id


async def test_the_arq_job_expires_on_the_clock(resources: Resources, tenant: Tenant) -> None:
    await configure(resources, tenant, expiry={"kind": "after_earning", "days": 30})
    customer_id = await add_customer(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "10.00", at=datetime.now(UTC) - 31 * DAY)
    fresh = await add_customer(resources, tenant)
    await earn_purchase(resources, tenant, fresh, "10.00", at=datetime.now(UTC) - 29 * DAY)

    result = await expire_points({"resources": resources})

    assert result["customers"] >= 1
    assert (await state(resources, tenant, customer_id)).balance == 0
    assert (await state(resources, tenant, fresh)).balance == 100
