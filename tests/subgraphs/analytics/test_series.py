"""`loyaltyAnalytics`: the program bucket by bucket, on the ROI scenario's shop — each bucket
holds what the scenario placed in it, every bucket of the range is listed, the series is
cached until the ledger changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from subgraphs.kit.events import ledger_changed
from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.subgraphs.analytics.test_roi import END, START, Scenario, roi_shop

SERIES = """query($start: DateTime!, $end: DateTime!, $granularity: AnalyticsGranularity!) {
  loyaltyAnalytics(range: {start: $start, end: $end}, granularity: $granularity) {
    granularity
    buckets {
      start points { issued reversed redeemed expired } newMembers rewardsRedeemed orders
      revenue { amount currencyCode } revenueInfluenced { amount }
    }
  }
}"""


def _week_of(at: datetime) -> datetime:
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _expected_weeks(scenario: Scenario) -> list[dict[str, Any]]:
    weeks = []
    week = _week_of(START)
    while week < END:
        weeks.append(week)
        week += timedelta(days=7)

    def inside(at: datetime, week: datetime) -> bool:
        return START <= at < END and week <= at < week + timedelta(days=7)

    rows = []
    for week in weeks:
        counted = [p for p in scenario.orders if inside(p.at, week) and not p.cancelled]
        influenced = [p for p in counted if p.engaged_before or p.program_code or p.referred_friend]
        rows.append(
            {
                "start": week.isoformat(),
                "points": {
                    "issued": str(sum(n for at, n in scenario.issues if inside(at, week))),
                    "reversed": "0",
                    "redeemed": str(sum(n for at, n in scenario.redemptions if inside(at, week))),
                    "expired": str(sum(n for at, n in scenario.expiries if inside(at, week))),
                },
                # The scenario's customers and redemptions were made today, not in October;
                # the newcomer's redemption is dated in the range.
                "newMembers": "0",
                "rewardsRedeemed": str(
                    sum(1 for at, _ in scenario.redemptions if inside(at, week))
                ),
                "orders": str(len(counted)),
                "revenue": {
                    "amount": sum((p.net for p in counted), Decimal(0)),
                    "currencyCode": "USD",
                },
                "revenueInfluenced": {"amount": sum((p.net for p in influenced), Decimal(0))},
            }
        )
    return rows


def _normalised(buckets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for bucket in buckets:
        bucket["start"] = datetime.fromisoformat(bucket["start"]).astimezone(UTC).isoformat()
        for money in ("revenue", "revenueInfluenced"):
            bucket[money]["amount"] = Decimal(bucket[money]["amount"])
    return buckets


async def _series(
    client: SubgraphClient, tenant: Tenant, start: datetime, end: datetime, granularity: str
) -> dict[str, Any]:
    body = await client.execute(
        SERIES,
        {"start": start.isoformat(), "end": end.isoformat(), "granularity": granularity},
        tenant=tenant,
    )
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["loyaltyAnalytics"]
    return found


async def test_each_week_holds_what_happened_in_it(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    scenario = await roi_shop(resources, tenant)

    weekly = await _series(analytics_client, tenant, START, END, "WEEK")

    assert weekly["granularity"] == "WEEK"
    assert _normalised(weekly["buckets"]) == _expected_weeks(scenario)
    # Days add up to the same month, and every day is there.
    daily = await _series(analytics_client, tenant, START, END, "DAY")
    assert len(daily["buckets"]) == 30
    assert sum(int(b["orders"]) for b in daily["buckets"]) == sum(
        int(b["orders"]) for b in weekly["buckets"]
    )
    monthly = await _series(analytics_client, tenant, START, END, "MONTH")
    assert [b["start"][:10] for b in monthly["buckets"]] == ["2026-10-01"]
    assert monthly["buckets"][0]["points"]["issued"] == str(scenario.issued)


async def test_new_members_count_in_the_day_they_joined(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    for _ in range(3):
        await add_customer(resources, tenant)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    days = await _series(
        analytics_client, tenant, today - timedelta(days=2), today + timedelta(days=1), "DAY"
    )

    assert [b["newMembers"] for b in days["buckets"]] == ["0", "0", "3"]


async def test_the_series_is_cached_until_the_ledger_changes(
    resources: Resources,
    tenant: Tenant,
    analytics_client: SubgraphClient,
    count_statements: StatementCounter,
) -> None:
    await roi_shop(resources, tenant)
    first = await _series(analytics_client, tenant, START, END, "WEEK")
    before = count_statements.count
    again = await _series(analytics_client, tenant, START, END, "WEEK")
    assert again == first
    assert count_statements.count == before  # served from Redis

    # An order of the range gains a refund, and the ledger moves with it.
    async with resources.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE orders SET refunded_amount = refunded_amount + 5"
                " WHERE merchant_id = :merchant_id AND shopify_order_id = '9004'"
            ),
            {"merchant_id": tenant.merchant_id},
        )
    await ledger_changed(resources, tenant.merchant_id, source="test")
    after = await _series(analytics_client, tenant, START, END, "WEEK")
    assert count_statements.count > before
    revenue = [Decimal(b["revenue"]["amount"]) for b in after["buckets"]]
    assert sum(revenue) == sum(Decimal(b["revenue"]["amount"]) for b in first["buckets"]) - 5
