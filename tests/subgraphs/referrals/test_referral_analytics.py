"""``referralAnalytics``: for a shop with clicks, referrals and paid rewards spread over several
days, the report equals what the test computes itself from the raw rows; it takes the same
number of statements for 2 links as for 8; and a range is bounded."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from db.models import Referral, ReferralEvent, ReferralReward
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.referrals.clicks.service import Visit, record_click
from subgraphs.referrals.conversions import service as conversions
from subgraphs.referrals.conversions.service import QualifyingOrder
from subgraphs.referrals.program.service import update_referral_program
from subgraphs.referrals.service import create_referral_link
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.ids import gid
from tests.subgraphs.referrals.test_referral_api import claimed
from worker.referrals.jobs import pay_due_referral_rewards

DAY1 = datetime(2026, 11, 20, 10, tzinfo=UTC)
REPORT = """query($first: Date!, $last: Date!) {
  referralAnalytics(firstDay: $first, lastDay: $last) {
  firstDay lastDay clicks uniqueVisitors referrals conversions conversionRate revenue
  rewardedPoints days { day clicks uniqueVisitors referrals conversions revenue }
  topAdvocates { advocate { id } conversions revenue } } }"""


async def seeded(resources: Resources, tenant: Tenant, links: int) -> None:
    """``links`` advocates; each gets clicks on two days, two referrals, one completing."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_referral_program(WriteContext(session, tenant.merchant_id), {"hold_hours": 0})
    for n in range(links):
        advocate = await add_customer(resources, tenant)
        friends = [await add_customer(resources, tenant) for _ in range(2)]
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            code = (await create_referral_link(session, tenant.merchant_id, advocate)).link.code
            for day, visitors in ((0, 3 + n), (2, 1)):
                for visitor in range(visitors):
                    for _ in range(2):  # the same visitor twice a day counts once
                        await record_click(
                            session,
                            tenant.merchant_id,
                            code,
                            Visit(ip=f"10.0.{n}.{visitor}", user_agent="b"),
                            resources.cipher,
                            now=DAY1 + timedelta(days=day, minutes=visitor),
                        )
            for index, friend in enumerate(friends):
                await claimed(
                    session, tenant.merchant_id, code, friend, DAY1 + timedelta(days=index)
                )
            placed = DAY1 + timedelta(days=1, hours=n)
            await conversions.complete(
                session,
                tenant.merchant_id,
                friends[0],
                QualifyingOrder(f"o-{n}", Decimal(40 + n), placed),
                now=placed,
            )
    await pay_due_referral_rewards(resources, now=DAY1 + timedelta(days=1, hours=23))


async def expected(resources: Resources, tenant: Tenant, first: date, last: date) -> Any:
    """The report computed here, from the raw rows."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        events = list(await session.scalars(select(ReferralEvent)))
        referrals = list(await session.scalars(select(Referral)))
        rewards = list(await session.scalars(select(ReferralReward)))
    in_range = [e for e in events if first <= e.day <= last]
    clicks = Counter(e.day for e in in_range)
    completed = [r for r in referrals if r.completed_at and first <= r.completed_at.date() <= last]
    per_advocate = Counter(r.advocate_customer_id for r in completed)
    return {
        "clicks": str(len(in_range)),
        "uniqueVisitors": str(len({e.visitor_hash for e in in_range})),
        "referrals": str(sum(1 for r in referrals if first <= r.created_at.date() <= last)),
        "conversions": str(len(completed)),
        "revenue": sum((r.qualifying_subtotal or Decimal(0) for r in completed), Decimal(0)),
        "rewardedPoints": str(
            sum(
                w.points or 0
                for w in rewards
                if w.status == "issued" and w.issued_at and first <= w.issued_at.date() <= last
            )
        ),
        "daysClicks": {day.isoformat(): str(count) for day, count in clicks.items()},
        "top": {gid("Customer", a): str(c) for a, c in per_advocate.items()},
    }


async def test_the_report_matches_the_raw_rows(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await seeded(resources, tenant, links=3)
    first, last = DAY1.date(), (DAY1 + timedelta(days=3)).date()

    body = await referrals_client.execute(
        REPORT, {"first": first.isoformat(), "last": last.isoformat()}, tenant=tenant
    )
    report = body["data"]["referralAnalytics"]
    want = await expected(resources, tenant, first, last)

    assert (report["firstDay"], report["lastDay"]) == (first.isoformat(), last.isoformat())
    for name in ("clicks", "uniqueVisitors", "referrals", "conversions", "rewardedPoints"):
        assert report[name] == want[name], name
    assert Decimal(report["revenue"]) == want["revenue"]
    assert [day["day"] for day in report["days"]] == [
        (first + timedelta(days=n)).isoformat() for n in range(4)
    ]
    assert {d["day"]: d["clicks"] for d in report["days"] if d["clicks"] != "0"} == want[
        "daysClicks"
    ]
    assert {a["advocate"]["id"]: a["conversions"] for a in report["topAdvocates"]} == want["top"]
    assert Decimal(report["conversionRate"]) == (
        Decimal(want["conversions"]) / int(want["uniqueVisitors"])
    ).quantize(Decimal("0.0001"))
    # Seeded as described: 3 advocates x (3+n + 1 visitors), 2 referrals and 1 conversion each.
    assert (report["clicks"], report["referrals"], report["conversions"]) == ("15", "6", "3")


async def test_the_report_takes_as_many_statements_for_many_links_as_for_few(
    referrals_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    await seeded(resources, tenant, links=2)
    await seeded(resources, other_tenant, links=8)
    variables = {"first": "2026-11-19", "last": "2026-11-25"}
    counts = []
    for shop in (tenant, other_tenant):
        count_statements.statements.clear()
        body = await referrals_client.execute(REPORT, variables, tenant=shop)
        assert "errors" not in body, body
        counts.append(count_statements.count)

    assert counts[0] == counts[1]
    assert counts[0] <= 6


async def test_a_range_is_bounded(referrals_client: SubgraphClient, tenant: Tenant) -> None:
    backwards = await referrals_client.execute(
        REPORT, {"first": "2026-11-20", "last": "2026-11-19"}, tenant=tenant
    )
    too_long = await referrals_client.execute(
        REPORT, {"first": "2025-01-01", "last": "2026-11-19"}, tenant=tenant
    )

    calendar_end = await referrals_client.execute(
        REPORT, {"first": "9999-12-30", "last": "9999-12-31"}, tenant=tenant
    )

    for body in (backwards, too_long, calendar_end):
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
