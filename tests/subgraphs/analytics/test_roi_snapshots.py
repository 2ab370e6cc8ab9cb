"""Daily ROI snapshots: each stored day is the day's `programReturn` and the liability as of
the day's end, computed here again from the ledger rows the scenario wrote; a re-run leaves
one row per day (the same one when nothing changed, the new figures when something did); a
day without a row is reported missing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from db.session import tenant_unit_of_work
from subgraphs.analytics.orders.repository import OrderFactsRepository
from subgraphs.analytics.roi import service as roi
from subgraphs.analytics.roi.snapshots import service
from subgraphs.analytics.roi.snapshots.jobs import (
    backfill_roi_snapshots,
    snapshot_all,
    snapshot_days,
)
from subgraphs.kit.errors import BadUserInputError
from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.subgraphs.analytics.ledger_history import happened_at
from tests.subgraphs.analytics.test_roi import START, roi_shop

CENT = Decimal("0.01")
RATIO = Decimal("0.0001")
FIRST_DAY = START.date() - timedelta(days=6)  # the scenario starts 20 days before START
FIRST_REDEMPTION = START - timedelta(days=5)
DAYS = [FIRST_DAY + timedelta(days=n) for n in range(20)]

# The fields of a return, asked of `programReturn` and of a stored day alike.
RETURN_FIELDS = """
    start end orders revenue { amount currencyCode } influencedOrders
    revenueInfluenced { amount } influencedShare referralOrders referralRevenue { amount }
    referralContribution
    vip { orders customers revenue { amount } averageOrderValue { amount } ordersPerCustomer }
    nonVip { orders customers revenue { amount } averageOrderValue { amount } ordersPerCustomer }
    points { issued reversed redeemed expired } redemptionRate breakage
"""
RETURN_OF_DAY = (
    "query($start: DateTime!, $end: DateTime!) { programReturn(range: {start: $start, end: $end}) {"
    + RETURN_FIELDS
    + "} }"
)
HISTORY = (
    """query($start: Date!, $end: Date!) {
  roiHistory(range: {start: $start, end: $end}) {
    missingDays
    days {
      day computedAt
      programReturn {"""
    + RETURN_FIELDS
    + """}
      pointsLiability {
        asOf outstandingPoints valuePerPoint { amount currencyCode } valueBasis
        liability { amount } breakage expectedLiability { amount }
        lifetime { issued reversed redeemed expired }
      }
    }
  }
}"""
)


def _day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


async def _history(
    client: SubgraphClient, tenant: Tenant, start: date, end: date
) -> dict[str, Any]:
    body = await client.execute(
        HISTORY, {"start": start.isoformat(), "end": end.isoformat()}, tenant=tenant
    )
    assert "errors" not in body, body
    history: dict[str, Any] = body["data"]["roiHistory"]
    return history


async def _ledger(resources: Resources, tenant: Tenant) -> list[tuple[int, str, datetime]]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.execute(
            text("SELECT points, kind, created_at FROM points_transactions"),
        )
        return [(int(points), str(kind), at) for points, kind, at in rows]


def _same_instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_each_snapshot_is_the_days_return_and_the_liability_at_its_end(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    await roi_shop(resources, tenant)
    written = await snapshot_days(
        resources.sessions, resources.cipher, tenant.merchant_id, DAYS, now=datetime.now(UTC)
    )
    assert written == len(DAYS)

    history = await _history(analytics_client, tenant, DAYS[0], DAYS[-1] + timedelta(days=1))
    assert history["missingDays"] == []
    assert [stored["day"] for stored in history["days"]] == [day.isoformat() for day in DAYS]

    ledger = await _ledger(resources, tenant)
    held_by_day = set()
    for day, stored in zip(DAYS, history["days"], strict=True):
        # The return: what programReturn answers for the day, field for field.
        start, end = _day_end(day) - timedelta(days=1), _day_end(day)
        live = await analytics_client.execute(
            RETURN_OF_DAY, {"start": start.isoformat(), "end": end.isoformat()}, tenant=tenant
        )
        assert "errors" not in live, live
        live_return = live["data"]["programReturn"]
        snapshot_return = stored["programReturn"]
        assert _same_instant(snapshot_return.pop("start")) == _same_instant(
            live_return.pop("start")
        )
        assert _same_instant(snapshot_return.pop("end")) == _same_instant(live_return.pop("end"))
        assert snapshot_return == live_return, day

        # The liability: the ledger rows before the day's end, summed here.
        before = [(points, kind) for points, kind, at in ledger if at < end]
        held = sum(points for points, _ in before)
        issued = sum(points for points, kind in before if points > 0 and kind != "refund")
        expired = -sum(points for points, kind in before if kind == "expire")
        owed = stored["pointsLiability"]
        assert _same_instant(owed["asOf"]) == end
        assert owed["outstandingPoints"] == str(held), day
        assert owed["lifetime"]["issued"] == str(issued)
        assert owed["lifetime"]["expired"] == str(expired)
        breakage = (Decimal(expired) / issued).quantize(RATIO) if issued else None
        assert owed["breakage"] == (None if breakage is None else str(breakage))
        if end <= FIRST_REDEMPTION:
            # No redemption yet, and the scenario's reward was created after every one of
            # these days (today): no value was known at the day's end.
            assert owed["valueBasis"] == "NONE"
            assert owed["valuePerPoint"] is None
            assert owed["liability"] is None
        else:
            # Every redemption of the scenario gave $5 for 50 points.
            assert owed["valueBasis"] == "REDEMPTIONS"
            assert Decimal(owed["valuePerPoint"]["amount"]) == Decimal("0.1")
            liability = (Decimal("0.1") * held).quantize(CENT)
            assert Decimal(owed["liability"]["amount"]) == liability
            expected = (liability * (1 - (breakage or 0))).quantize(CENT)
            assert Decimal(owed["expectedLiability"]["amount"]) == expected
        held_by_day.add(held)
    # The days held different balances from today's: the history is not today's ledger.
    assert len(held_by_day) > 3


async def test_the_liability_as_of_now_is_the_live_one(
    resources: Resources, tenant: Tenant
) -> None:
    await roi_shop(resources, tenant)
    now = datetime.now(UTC)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        from_ledger = await service.points_liability_as_of(session, tenant.merchant_id, now)
        from_balances = await roi.points_liability(session, tenant.merchant_id, now=now)
    assert from_ledger == from_balances


async def test_running_a_day_again_changes_nothing_unless_its_facts_changed(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    await roi_shop(resources, tenant)
    day = START.date()  # the engaged member's order of $100, $20 refunded, is the next day
    days = [day, day + timedelta(days=1)]
    await snapshot_days(
        resources.sessions, resources.cipher, tenant.merchant_id, days, now=datetime.now(UTC)
    )
    first = await _history(analytics_client, tenant, days[0], days[-1] + timedelta(days=1))

    await snapshot_days(
        resources.sessions, resources.cipher, tenant.merchant_id, days, now=datetime.now(UTC)
    )
    assert await _history(analytics_client, tenant, days[0], days[-1] + timedelta(days=1)) == first

    # A refund recorded late: the retried day takes it, and the day keeps one row.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await OrderFactsRepository(session, tenant.merchant_id).add_refund(
            "9000", "refund-late", Decimal(30)
        )
    await snapshot_days(
        resources.sessions, resources.cipher, tenant.merchant_id, days, now=datetime.now(UTC)
    )
    again = await _history(analytics_client, tenant, days[0], days[-1] + timedelta(days=1))
    assert again["days"][0] == first["days"][0]
    revised, earlier = again["days"][1], first["days"][1]
    assert (
        Decimal(revised["programReturn"]["revenue"]["amount"])
        == Decimal(earlier["programReturn"]["revenue"]["amount"]) - 30
    )
    assert revised["computedAt"] != earlier["computedAt"]
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalar(text("SELECT count(*) FROM roi_metrics"))
    assert rows == 2


async def test_days_without_a_snapshot_are_listed_missing_and_none_is_invented(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    await add_customer(resources, tenant, points=100)
    now = datetime.now(UTC)
    today = now.date()
    written = await backfill_roi_snapshots(
        resources.sessions, resources.cipher, tenant.merchant_id, days=2, now=now
    )
    assert written == 2

    history = await _history(
        analytics_client, tenant, today - timedelta(days=4), today + timedelta(days=3)
    )
    yesterday, before = today - timedelta(days=1), today - timedelta(days=2)
    assert [stored["day"] for stored in history["days"]] == [
        before.isoformat(),
        yesterday.isoformat(),
    ]
    # Today and the days after it have not ended: they are not missing, merely not yet.
    assert history["missingDays"] == [
        (today - timedelta(days=4)).isoformat(),
        (today - timedelta(days=3)).isoformat(),
    ]
    # The 100 points were given today: yesterday's end owed none of them.
    assert history["days"][1]["pointsLiability"]["outstandingPoints"] == "0"


async def test_the_nightly_job_stores_yesterday_for_every_installed_shop(
    resources: Resources, tenant: Tenant, other_tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    now = datetime.now(UTC)
    await add_customer(resources, tenant, points=40)
    await happened_at(resources, tenant.merchant_id, now - timedelta(days=1))
    totals = await snapshot_all(resources.sessions, resources.cipher, now=now)
    assert totals["failed"] == 0

    yesterday = now.date() - timedelta(days=1)
    for shop, held in ((tenant, "40"), (other_tenant, "0")):
        history = await _history(analytics_client, shop, yesterday, now.date())
        (stored,) = history["days"]
        assert stored["day"] == yesterday.isoformat()
        assert stored["pointsLiability"]["outstandingPoints"] == held


async def test_a_bad_range_or_backfill_is_refused_with_its_reason(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    day = START.date()
    for start, end, reason in (
        (day, day, "end must be after start"),
        (day, day + timedelta(days=732), "at most 731 days"),
    ):
        body = await analytics_client.execute(
            HISTORY, {"start": start.isoformat(), "end": end.isoformat()}, tenant=tenant
        )
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
        assert reason in error["message"]
    for days in (0, 732):
        with pytest.raises(BadUserInputError, match="days: give 1 to 731"):
            await backfill_roi_snapshots(
                resources.sessions, resources.cipher, tenant.merchant_id, days=days, now=START
            )
    # A day that has not ended is not stored: its figures would still move.
    with pytest.raises(BadUserInputError, match="has not ended"):
        await snapshot_days(
            resources.sessions, resources.cipher, tenant.merchant_id, [day], now=START
        )


async def test_a_history_costs_the_same_statements_for_a_month_as_for_a_day(
    resources: Resources,
    tenant: Tenant,
    analytics_client: SubgraphClient,
    count_statements: StatementCounter,
) -> None:
    await snapshot_days(
        resources.sessions, resources.cipher, tenant.merchant_id, DAYS, now=datetime.now(UTC)
    )
    await _history(analytics_client, tenant, DAYS[0], DAYS[1])  # the viewer, resolved once
    costs = []
    for end in (DAYS[1], DAYS[-1] + timedelta(days=1)):
        before = count_statements.count
        await _history(analytics_client, tenant, DAYS[0], end)
        costs.append(count_statements.count - before)
    assert costs[0] == costs[1], costs
