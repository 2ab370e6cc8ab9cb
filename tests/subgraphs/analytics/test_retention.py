"""Retention cohorts: on a shop of random order histories, `retentionCohorts` equals what the
definition gives when computed here from the same raw rows — the cohort of a customer is the
month of their first order that was not cancelled, a member earned points by the end of it."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from db.session import tenant_unit_of_work
from subgraphs.analytics.retention.service import add_months, month_of, months_between
from subgraphs.kit.resources import Resources
from subgraphs.points.ledger import service as ledger
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.subgraphs.analytics.ledger_history import happened_at, purchase
from tests.subgraphs.analytics.rfm_shops import fact, record

COHORTS = """query($first: Date!, $last: Date!, $after: Int!) {
  retentionCohorts(firstMonth: $first, lastMonth: $last, monthsAfter: $after) {
    month
    everyone { customers retention { monthsAfter customers share } }
    members { customers retention { monthsAfter customers share } }
    nonMembers { customers retention { monthsAfter customers share } }
  }
}"""

FIRST = date(2026, 1, 1)
RATIO = Decimal("0.0001")


def _at(month: date, day: int) -> datetime:
    return datetime(month.year, month.month, day, 12, tzinfo=UTC)


Placed = tuple[str, datetime, bool]  # customer, when, cancelled


async def _histories(
    resources: Resources, tenant: Tenant
) -> tuple[list[Placed], dict[str, datetime]]:
    """40 customers, each a first order in one of Dec 2025 to Jun 2026 and some orders after
    (a few cancelled); every third earns points in their first month, one earns only later."""
    rng = random.Random(7)
    merchant = tenant.merchant_id
    placed: list[Placed] = []
    earned_at: dict[str, datetime] = {}
    for index in range(40):
        customer = await add_customer(resources, tenant)
        first = add_months(date(2025, 12, 1), rng.randrange(7))
        # A cancelled order before the first one does not start a cohort.
        if index % 10 == 0:
            placed.append((customer, _at(add_months(first, -1), 20), True))
        placed.append((customer, _at(first, rng.randrange(1, 28)), False))
        for _ in range(rng.randrange(5)):
            later = add_months(first, rng.randrange(1, 9))
            placed.append((customer, _at(later, rng.randrange(1, 28)), rng.random() < 0.15))
        if index % 3 == 0:
            earned_at[customer] = _at(first, 28)
        elif index == 4:
            earned_at[customer] = _at(add_months(first, 1), 2)  # too late to count
    for customer, at in earned_at.items():
        async with tenant_unit_of_work(resources.sessions, merchant) as session:
            await ledger.earn(session, merchant, purchase(customer, "10", at), now=at)
        await happened_at(resources, merchant, at)
    await record(
        resources,
        tenant,
        [
            fact(50_000 + n, customer, at, "25.00", cancelled_at=at if cancelled else None)
            for n, (customer, at, cancelled) in enumerate(placed)
        ],
    )
    return placed, earned_at


def _expected(
    placed: list[Placed],
    earned_at: dict[str, datetime],
    first: date,
    last: date,
    months_after: int,
    now: datetime,
) -> list[dict[str, Any]]:
    counted = sorted((at, customer) for customer, at, cancelled in placed if not cancelled)
    cohort_of: dict[str, date] = {}
    active: dict[str, set[date]] = defaultdict(set)
    for at, customer in counted:
        cohort_of.setdefault(customer, month_of(at.date()))
        active[customer].add(month_of(at.date()))
    current = month_of(now.date())

    def group(customers: list[str], month: date) -> dict[str, Any]:
        begun = min(months_after, months_between(month, current))
        rows = []
        for k in range(1, begun + 1):
            back = sum(1 for c in customers if add_months(month, k) in active[c])
            share = str((Decimal(back) / len(customers)).quantize(RATIO)) if customers else None
            rows.append({"monthsAfter": k, "customers": str(back), "share": share})
        return {"customers": str(len(customers)), "retention": rows}

    result = []
    month = first
    while month <= min(last, current):
        mine = [c for c, m in cohort_of.items() if m == month]
        after = add_months(month, 1)
        ends = datetime(after.year, after.month, 1, tzinfo=UTC)
        members = [c for c in mine if c in earned_at and earned_at[c] < ends]
        result.append(
            {
                "month": month.isoformat(),
                "everyone": group(mine, month),
                "members": group(members, month),
                "nonMembers": group([c for c in mine if c not in members], month),
            }
        )
        month = add_months(month, 1)
    return result


async def test_cohorts_equal_the_definition_computed_from_the_raw_orders(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    placed, earned_at = await _histories(resources, tenant)

    body = await analytics_client.execute(
        COHORTS, {"first": "2025-12-15", "last": "2026-06-30", "after": 6}, tenant=tenant
    )
    assert "errors" not in body, body
    got = body["data"]["retentionCohorts"]

    expected = _expected(
        placed, earned_at, date(2025, 12, 1), date(2026, 6, 1), 6, datetime.now(UTC)
    )
    assert got == expected
    # Every month of the span, each as its first day (the days asked for were mid-month).
    assert [c["month"] for c in got] == ["2025-12-01"] + [f"2026-0{m}-01" for m in range(1, 7)]
    # The test means something: both groups are there, and people come back.
    assert sum(int(c["members"]["customers"]) for c in got) >= 5
    assert sum(int(c["nonMembers"]["customers"]) for c in got) >= 5
    assert any(int(r["customers"]) for c in got for r in c["everyone"]["retention"])


async def test_the_span_asked_for_is_checked(
    tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    for variables, reason in (
        ({"first": "2026-05-01", "last": "2026-04-01", "after": 6}, "not be before"),
        ({"first": "2023-01-01", "last": "2026-01-01", "after": 6}, "at most 36"),
        ({"first": "2026-01-01", "last": "2026-02-01", "after": 0}, "monthsAfter"),
    ):
        body = await analytics_client.execute(COHORTS, variables, tenant=tenant)
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert reason in error["message"]


async def test_cohorts_cost_the_same_statements_for_any_number_of_customers(
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
    analytics_client: SubgraphClient,
    count_statements: StatementCounter,
) -> None:
    await _histories(resources, tenant)
    costs = []
    for shop in (tenant, other_tenant):
        before = count_statements.count
        body = await analytics_client.execute(
            COHORTS, {"first": "2025-12-01", "last": "2026-06-01", "after": 6}, tenant=shop
        )
        assert "errors" not in body, body
        costs.append(count_statements.count - before)
    assert costs[0] == costs[1], costs
