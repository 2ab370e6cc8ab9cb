"""Credit-backs and expiry as a merchant relies on them (issue 16): points returned for a reward
that could not be issued come back once however often the return is retried; a customer who
earns between being listed for inactivity expiry and being expired keeps their points; a
customer who goes inactive a second time loses the points earned since. Service level, real
Postgres; the re-check under the lock runs two transactions interleaved."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from db.ids import new_id
from db.models import Customer, PointsTransaction, PointsTransactionKind
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.expiry.service import customers_due_for_expiry, expire_customer
from subgraphs.points.ledger import service as ledger
from subgraphs.points.program.calculation import EarnAction, Order, OrderLine
from subgraphs.points.program.service import Channel, update_program_config
from tests.conftest import Tenant, add_customer
from tests.subgraphs.points.ledger_helpers import ledger_state

DAY = timedelta(days=1)
MICRO = timedelta(microseconds=1)


@pytest.fixture
def t0() -> datetime:
    return datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


async def configure(resources: Resources, tenant: Tenant, **changes: Any) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_program_config(
            WriteContext(session, tenant.merchant_id), {"first_purchase": None, **changes}
        )


def purchase(customer_id: str, amount: str, at: datetime) -> ledger.EarnCommand:
    order_id = new_id()
    order = Order(
        order_id, "USD", (OrderLine(f"{order_id}-1", 1, Decimal(amount)),), Channel.ONLINE, at
    )
    return ledger.EarnCommand(customer_id, EarnAction.PURCHASE, f"order:{order_id}:earn", order)


async def earn(
    resources: Resources, tenant: Tenant, customer_id: str, amount: str, *, at: datetime
) -> int:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        entry = await ledger.earn(
            session, tenant.merchant_id, purchase(customer_id, amount, at), now=at
        )
    return entry.transaction.points


async def expire(
    resources: Resources, tenant: Tenant, customer_id: str, *, at: datetime
) -> ledger.LedgerEntry | None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await expire_customer(session, tenant.merchant_id, customer_id, now=at)


async def balance(resources: Resources, tenant: Tenant, customer_id: str) -> int:
    state = await ledger_state(resources, tenant, customer_id)
    assert state.consistent, state
    return state.balance


async def waiting_for_locks(resources: Resources, count: int) -> None:
    """Until ``count`` sessions of this database wait for a row lock."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        async with resources.sessions() as session:
            if (await session.scalar(query)) == count:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} sessions never waited for the lock")


# --- credit-back ----------------------------------------------------------------------------


def returned(customer_id: str, points: int, key: str) -> ledger.PointsMovement:
    return ledger.PointsMovement(
        customer_id, points, "reward not issued: points returned", key, "reward"
    )


async def test_points_returned_for_an_unissued_reward_come_back_once_however_often_retried(
    resources: Resources, tenant: Tenant, t0: datetime
) -> None:
    """Kills the credit-back's replay check (`same_entry(REFUND, points)` with another kind or
    sign: the retry is refused as a reused key) and the key not checked at all (each retry
    credits again), and `credit_expiry` dropped (the points never expire)."""
    await configure(resources, tenant, expiry={"kind": "after_earning", "days": 30})
    customer_id = await add_customer(resources, tenant, points=500)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        earned_before = await session.get(Customer, (tenant.merchant_id, customer_id))
        assert earned_before is not None
        total_earned = earned_before.total_points_earned
    key = f"redemption:{new_id()}:refund"

    entries = []
    for _ in range(3):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            entries.append(
                await ledger.credit_back(
                    session, tenant.merchant_id, returned(customer_id, 120, key), now=t0
                )
            )

    first, *retries = entries
    assert (first.replayed, first.transaction.points, first.balance) == (False, 120, 620)
    assert all(r.replayed and r.transaction.id == first.transaction.id for r in retries)
    assert [r.balance for r in retries] == [620, 620]
    assert first.transaction.kind == PointsTransactionKind.REFUND
    assert first.transaction.expires_at == t0 + 30 * DAY
    state = await ledger_state(resources, tenant, customer_id)
    assert (state.balance, state.rows, state.consistent) == (620, 2, True)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        after = await session.get(Customer, (tenant.merchant_id, customer_id))
        assert after is not None
        # Returned points were earned once already: they do not count towards tiers again.
        assert after.total_points_earned == total_earned


async def test_a_credit_back_under_a_used_key_for_other_points_is_refused(
    resources: Resources, tenant: Tenant, t0: datetime
) -> None:
    """Kills `same_entry` matching on the kind only: 90 points under the key of a 120-point
    return would replay it instead of refusing the mismatch."""
    await configure(resources, tenant)
    customer_id = await add_customer(resources, tenant)
    key = f"redemption:{new_id()}:refund"
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await ledger.credit_back(
            session, tenant.merchant_id, returned(customer_id, 120, key), now=t0
        )

    with pytest.raises(PointsError) as refused:
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await ledger.credit_back(
                session, tenant.merchant_id, returned(customer_id, 90, key), now=t0
            )

    assert refused.value.code is PointsErrorCode.IDEMPOTENCY_KEY_REUSED
    assert await balance(resources, tenant, customer_id) == 120


# --- inactivity -----------------------------------------------------------------------------


async def test_a_customer_who_earns_after_being_listed_for_expiry_keeps_their_points(
    resources: Resources, tenant: Tenant, t0: datetime
) -> None:
    """Listed as inactive for 90 days, the customer buys while the expiry job is about to run:
    the expiry waits for the purchase's lock, reads the customer again, and expires nothing.
    Kills the re-check under the lock (`last_seen > now - days` dropped or inverted) and
    `writer.lock` replaced by an unlocked read."""
    await configure(resources, tenant, expiry={"kind": "inactivity", "days": 90})
    customer_id = await add_customer(resources, tenant)
    first = await earn(resources, tenant, customer_id, "10.00", at=t0)
    now = t0 + 91 * DAY
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        listed = await customers_due_for_expiry(session, tenant.merchant_id, now=now, limit=100)
    assert customer_id in listed

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as buying:
        second = (
            await ledger.earn(
                buying, tenant.merchant_id, purchase(customer_id, "4.20", now), now=now
            )
        ).transaction.points
        expiring = asyncio.ensure_future(expire(resources, tenant, customer_id, at=now))
        await waiting_for_locks(resources, 1)
    entry = await expiring

    assert entry is None
    assert await balance(resources, tenant, customer_id) == first + second


async def test_a_customer_inactive_a_second_time_loses_what_they_earned_since(
    resources: Resources, tenant: Tenant, t0: datetime
) -> None:
    """The first expiry is keyed by the lot it empties; the second, months later, by the new
    lot. Kills the key losing its lot (`expire:inactive:{customer}` alone: the second expiry
    would replay the first and take nothing), `lot_ids[0]` -> `lot_ids[1]`, and the re-check's
    `>` -> `>=` (the inactivity boundary: 90 days to the microsecond expire)."""
    await configure(resources, tenant, expiry={"kind": "inactivity", "days": 90})
    customer_id = await add_customer(resources, tenant)
    first = await earn(resources, tenant, customer_id, "10.00", at=t0)

    one = await expire(resources, tenant, customer_id, at=t0 + 91 * DAY)
    again = await expire(resources, tenant, customer_id, at=t0 + 92 * DAY)
    second = await earn(resources, tenant, customer_id, "3.30", at=t0 + 100 * DAY)
    # Inactive for 90 days less a microsecond: not yet; for exactly 90 days: expired.
    last_seen = t0 + 100 * DAY
    not_yet = await expire(resources, tenant, customer_id, at=last_seen + 90 * DAY - MICRO)
    two = await expire(resources, tenant, customer_id, at=last_seen + 90 * DAY)

    assert one is not None
    assert two is not None
    assert (one.transaction.points, again, not_yet, two.transaction.points) == (
        -first,
        None,
        None,
        -second,
    )
    assert one.transaction.idempotency_key != two.transaction.idempotency_key
    assert two.transaction.reason == "points expired after inactivity"
    assert await balance(resources, tenant, customer_id) == 0
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        expired = await session.scalars(
            select(PointsTransaction.points).where(
                PointsTransaction.merchant_id == tenant.merchant_id,
                PointsTransaction.customer_id == customer_id,
                PointsTransaction.kind == PointsTransactionKind.EXPIRE,
            )
        )
        assert sorted(expired) == sorted([-first, -second])
    [step] = two.transaction.explanation["trace"]
    assert step == {
        "rule": "expiry_inactivity",
        "applied": True,
        "detail": f"no activity since {last_seen.isoformat()}, more than 90 days",
        "points": -second,
    } | {k: v for k, v in step.items() if k not in {"rule", "applied", "detail", "points"}}


# --- referral rewards -----------------------------------------------------------------------


async def test_a_referral_reward_is_earned_once_counts_for_tiers_and_expires(
    resources: Resources, tenant: Tenant, t0: datetime
) -> None:
    """The referrals program's reward, carried by a job that may run twice. Kills, in
    `credit_referral`: the points, reason, key, source, trace or expiry of the credit changed,
    `earned` or `activity_at` dropped from the customer's change, and its replay check."""
    await configure(resources, tenant, expiry={"kind": "after_earning", "days": 30})
    customer_id = await add_customer(resources, tenant)
    referral = ledger.PointsChange(customer_id, 250, "referred a friend", f"referral:{new_id()}:a")

    entries = []
    for _ in range(2):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            entries.append(
                await ledger.credit_referral(session, tenant.merchant_id, referral, now=t0)
            )

    first, retry = entries
    assert (first.replayed, retry.replayed, retry.transaction.id) == (
        False,
        True,
        first.transaction.id,
    )
    credit = first.transaction
    assert (credit.kind, credit.points, credit.source, credit.reason) == (
        PointsTransactionKind.REFERRAL,
        250,
        "referral",
        "referred a friend",
    )
    assert credit.idempotency_key == referral.idempotency_key
    assert credit.expires_at == t0 + 30 * DAY
    [step] = credit.explanation["trace"]
    assert (step["rule"], step["applied"], step["detail"], step["points"]) == (
        "referral",
        True,
        "referred a friend",
        250,
    )
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        row = await session.get(Customer, (tenant.merchant_id, customer_id))
        assert row is not None
        assert (row.points_balance, row.total_points_earned) == (250, 250)
        assert row.last_activity_at == t0
    assert await balance(resources, tenant, customer_id) == 250


async def test_points_expiring_after_earning_say_which_lots_and_when(
    resources: Resources, tenant: Tenant, t0: datetime
) -> None:
    """One expiry empties every lot whose date has passed, a trace step per lot; the lot
    earned later keeps its points. Kills the lots' reason, detail and key texts changed, and
    the sum of what expires miscounted."""
    await configure(resources, tenant, expiry={"kind": "after_earning", "days": 30})
    customer_id = await add_customer(resources, tenant)
    first = await earn(resources, tenant, customer_id, "10.00", at=t0)
    second = await earn(resources, tenant, customer_id, "2.50", at=t0 + DAY)
    later = await earn(resources, tenant, customer_id, "1.00", at=t0 + 5 * DAY)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        lots = list(
            (
                await session.execute(
                    select(PointsTransaction.id, PointsTransaction.expires_at)
                    .where(
                        PointsTransaction.merchant_id == tenant.merchant_id,
                        PointsTransaction.customer_id == customer_id,
                    )
                    .order_by(PointsTransaction.id)
                )
            ).all()
        )

    entry = await expire(resources, tenant, customer_id, at=t0 + 31 * DAY + DAY)

    assert entry is not None
    expired = entry.transaction
    assert (expired.points, expired.reason, expired.source) == (
        -(first + second),
        "points expired",
        "expiry",
    )
    assert expired.idempotency_key == f"expire:{customer_id}:{lots[0].id}"
    assert [
        (step["rule"], step["applied"], step["detail"], step["points"])
        for step in expired.explanation["trace"]
    ] == [
        (
            "expiry_after_earning",
            True,
            f"{points} unspent points of {lot_id} expired {expires_at and expires_at.isoformat()}",
            -points,
        )
        for points, (lot_id, expires_at) in zip((first, second), lots[:2], strict=True)
    ]
    assert await balance(resources, tenant, customer_id) == later


@pytest.mark.parametrize(
    ("policy", "due_on_day"),
    [
        pytest.param({"kind": "after_earning", "days": 30}, 31, id="after earning"),
        pytest.param({"kind": "inactivity", "days": 90}, 91, id="after inactivity"),
    ],
)
async def test_customers_due_for_expiry_are_listed_a_batch_at_a_time(
    resources: Resources,
    tenant: Tenant,
    t0: datetime,
    policy: dict[str, Any],
    due_on_day: int,
) -> None:
    """The job expires a batch per transaction: its listing respects the batch size (one run
    never reads a whole shop at once) and lists only customers who are due, since a batch
    filled with customers the re-check then spares would end the run before the due ones
    behind them. Kills `limit=limit` -> `limit=None` or dropped in both listings, and the
    inactivity cutoff's `now - days` -> `now + days`."""
    await configure(resources, tenant, expiry=policy)
    customers = [await add_customer(resources, tenant) for _ in range(3)]
    for customer_id in customers:
        await earn(resources, tenant, customer_id, "1.00", at=t0)
    not_due = await add_customer(resources, tenant)
    await earn(resources, tenant, not_due, "1.00", at=t0 + (due_on_day - 10) * DAY)

    now = t0 + due_on_day * DAY
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        batch = await customers_due_for_expiry(session, tenant.merchant_id, now=now, limit=2)
        everyone = await customers_due_for_expiry(session, tenant.merchant_id, now=now, limit=10)

    assert batch == sorted(customers)[:2]
    assert everyone == sorted(customers)
