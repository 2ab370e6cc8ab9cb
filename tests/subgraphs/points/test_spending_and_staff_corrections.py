"""What a spend and a staff correction take and give, to the point (issue 16): a correction may
take a balance down to exactly zero and never below; a staff credit expires like earned points
and records who made it; a spend larger than the balance is refused with its code; a spend's
key replays the same spend and refuses another amount. Service level, real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from db.ids import new_id
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.ledger import service as ledger
from subgraphs.points.program.service import update_program_config
from tests.conftest import Tenant, add_customer
from tests.subgraphs.points.ledger_helpers import customer_row, ledger_state

# Later than any row the fixtures write (they use the clock), so `NOW` is the latest activity.
NOW = datetime(2036, 1, 1, 12, tzinfo=UTC)


async def configure(resources: Resources, tenant: Tenant, **changes: Any) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_program_config(WriteContext(session, tenant.merchant_id), changes)


async def correct(
    resources: Resources,
    tenant: Tenant,
    customer_id: str,
    points: int,
    *,
    by: str = "staff-7",
    key: str | None = None,
) -> ledger.LedgerEntry:
    command = ledger.AdjustCommand(customer_id, points, "stock count", key or new_id(), actor_id=by)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await ledger.adjust(session, tenant.merchant_id, command, now=NOW)


async def spend(
    resources: Resources, tenant: Tenant, customer_id: str, points: int, key: str
) -> ledger.LedgerEntry:
    command = ledger.PointsMovement(customer_id, points, "reward", key, "reward")
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await ledger.redeem(session, tenant.merchant_id, command, now=NOW)


async def balance(resources: Resources, tenant: Tenant, customer_id: str) -> int:
    state = await ledger_state(resources, tenant, customer_id)
    assert state.consistent, state
    return state.balance


async def test_a_correction_takes_the_balance_down_to_exactly_zero_and_not_below(
    resources: Resources, tenant: Tenant
) -> None:
    """A correction also counts as the customer's activity (the inactivity clock restarts) and
    a debit leaves their lifetime earned points alone (tiers read them). Kills
    `points < 0 and -points > balance` -> `or` (every debit refused) and -> `>=` (a debit of
    the whole balance refused), `activity_at` dropped or None, and `max(points, 0)` ->
    `max(points, 1)`."""
    customer_id = await add_customer(resources, tenant, points=100)
    earned_before = (await customer_row(resources, tenant, customer_id)).total_points_earned

    part = await correct(resources, tenant, customer_id, -40)
    rest = await correct(resources, tenant, customer_id, -60)
    with pytest.raises(PointsError) as refused:
        await correct(resources, tenant, customer_id, -1)

    assert (part.balance, rest.balance) == (60, 0)
    assert refused.value.code is PointsErrorCode.INSUFFICIENT_POINTS
    assert refused.value.field == "points"
    assert await balance(resources, tenant, customer_id) == 0
    after = await customer_row(resources, tenant, customer_id)
    assert (after.total_points_earned, after.last_activity_at) == (earned_before, NOW)


async def test_a_staff_credit_expires_like_earned_points_and_records_who_made_it(
    resources: Resources, tenant: Tenant
) -> None:
    """Kills the correction's `expires_at` dropped or None, its `source="staff"` changed, and
    `actor_id` dropped."""
    await configure(resources, tenant, expiry={"kind": "after_earning", "days": 30})
    customer_id = await add_customer(resources, tenant)

    credit = (await correct(resources, tenant, customer_id, 50, by="staff-42")).transaction

    assert (credit.points, credit.source, credit.actor_id) == (50, "staff", "staff-42")
    assert credit.expires_at == NOW + timedelta(days=30)
    assert await balance(resources, tenant, customer_id) == 50
    assert (await customer_row(resources, tenant, customer_id)).total_points_earned == 50


async def test_a_spend_larger_than_the_balance_is_refused_with_its_code(
    resources: Resources, tenant: Tenant
) -> None:
    """Kills the refusal's code replaced by None."""
    customer_id = await add_customer(resources, tenant, points=100)

    with pytest.raises(PointsError) as refused:
        await spend(resources, tenant, customer_id, 101, new_id())
    exact = await spend(resources, tenant, customer_id, 100, new_id())

    assert refused.value.code is PointsErrorCode.INSUFFICIENT_POINTS
    assert "needs 101 points; the balance is 100" in refused.value.message
    assert exact.balance == 0


async def test_a_spends_key_replays_that_spend_and_refuses_another_amount(
    resources: Resources, tenant: Tenant
) -> None:
    """A retried spend (same key, same points) is the same spend, charged once; the same key
    with other points is a mistake, refused. Kills the replay check dropped or given the
    wrong points (`same_entry(REDEEM, None)`, `+points`)."""
    customer_id = await add_customer(resources, tenant, points=100)
    key = f"redemption:{new_id()}"

    first = await spend(resources, tenant, customer_id, 30, key)
    retried = await spend(resources, tenant, customer_id, 30, key)
    with pytest.raises(PointsError) as refused:
        await spend(resources, tenant, customer_id, 40, key)

    assert (first.replayed, retried.replayed) == (False, True)
    assert retried.transaction.id == first.transaction.id
    assert refused.value.code is PointsErrorCode.IDEMPOTENCY_KEY_REUSED
    assert await balance(resources, tenant, customer_id) == 70


async def test_a_retried_spend_or_correction_that_emptied_the_balance_is_replayed(
    resources: Resources, tenant: Tenant
) -> None:
    """The retry of a request that took the whole balance must answer with that request's
    entry, not refuse it for want of points: the key is looked up before the balance is
    checked. Kills `write` given no key for a spend and for a correction."""
    spender = await add_customer(resources, tenant, points=100)
    corrected = await add_customer(resources, tenant, points=100)
    spend_key, correction_key = new_id(), new_id()

    spent = await spend(resources, tenant, spender, 100, spend_key)
    spent_again = await spend(resources, tenant, spender, 100, spend_key)
    taken = await correct(resources, tenant, corrected, -100, key=correction_key)
    taken_again = await correct(resources, tenant, corrected, -100, key=correction_key)

    assert (spent_again.replayed, spent_again.transaction.id) == (True, spent.transaction.id)
    assert (taken_again.replayed, taken_again.transaction.id) == (True, taken.transaction.id)
    assert await balance(resources, tenant, spender) == 0
    assert await balance(resources, tenant, corrected) == 0
