"""Clicks on referral links at the edge app, over real HTTP: a visitor is counted once per
link per day however often they click, another visitor counts again, the shopper always
reaches the shop with the code, and an unsigned or unknown click counts nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from db.models import ReferralEvent, ReferralLink
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.referrals.clicks.service import Visit, record_click
from subgraphs.referrals.service import create_referral_link
from tests.conftest import Tenant, add_customer
from tests.gateway.auth.test_app_proxy import proxy_signed

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)"


async def link_code(resources: Resources, tenant: Tenant) -> str:
    advocate = await add_customer(resources, tenant)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return (await create_referral_link(session, tenant.merchant_id, advocate)).link.code


async def clicks(resources: Resources, tenant: Tenant, code: str) -> int:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        count = await session.scalar(
            select(ReferralLink.click_count).where(ReferralLink.code == code)
        )
    return int(count or 0)


def signed_proxy_query(tenant: Tenant) -> httpx.QueryParams:
    return proxy_signed(
        [
            ("shop", tenant.shop_domain),
            ("logged_in_customer_id", ""),
            ("path_prefix", "/apps/loyalnest"),
            ("timestamp", str(int(time.time()))),
        ]
    )


async def test_a_visitor_counts_once_a_day_and_always_reaches_the_shop(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    code = await link_code(resources, tenant)
    ada = {"x-forwarded-for": "203.0.113.7, 10.0.0.1", "user-agent": BROWSER}
    grace = {"x-forwarded-for": "198.51.100.23", "user-agent": BROWSER}

    answers = [
        await edge.get(f"/proxy/r/{code}", params=signed_proxy_query(tenant), headers=ada)
        for _ in range(5)
    ]
    other = await edge.get(f"/proxy/r/{code}", params=signed_proxy_query(tenant), headers=grace)

    assert {(answer.status_code, answer.headers["location"]) for answer in answers} == {
        (302, f"/?ref={code}")
    }
    assert answers[0].headers["cache-control"] == "no-store"
    assert other.status_code == 302
    assert await clicks(resources, tenant, code) == 2
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        events = list(await session.scalars(select(ReferralEvent)))
    # Kept only as keyed hashes: the IP and the user agent are nowhere in the row.
    assert all("203.0.113.7" not in str(vars(event)) for event in events)
    assert all(BROWSER.lower() not in str(vars(event)).lower() for event in events)


async def test_unsigned_and_unknown_clicks_reach_the_shop_uncounted(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    code = await link_code(resources, tenant)

    unsigned = await edge.get(f"/proxy/r/{code}", params={"shop": tenant.shop_domain})
    forged = signed_proxy_query(tenant).set("shop", "other-shop.myshopify.com")
    tampered = await edge.get(f"/proxy/r/{code}", params=forged)
    unknown = await edge.get("/proxy/r/NOSUCHCODE", params=signed_proxy_query(tenant))
    garbage = await edge.get("/proxy/r/%00%3Cscript%3E", params=signed_proxy_query(tenant))

    assert (unsigned.status_code, unsigned.headers["location"]) == (302, f"/?ref={code}")
    assert tampered.status_code == 302
    assert unknown.status_code == 302
    assert (garbage.status_code, garbage.headers["location"]) == (302, "/")
    assert await clicks(resources, tenant, code) == 0


async def test_the_direct_link_counts_and_sends_the_visitor_to_the_shop(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    code = await link_code(resources, tenant)

    first = await edge.get(f"/r/{tenant.shop_domain}/{code.lower()}", headers={"user-agent": "a"})
    again = await edge.get(f"/r/{tenant.shop_domain}/{code}", headers={"user-agent": "a"})
    not_a_shop = await edge.get(f"/r/example.com/{code}")

    assert (first.status_code, first.headers["location"]) == (
        302,
        f"https://{tenant.shop_domain}/?ref={code}",
    )
    assert again.status_code == 302
    assert not_a_shop.status_code == 404
    assert await clicks(resources, tenant, code) == 1


async def test_the_same_visitor_counts_again_the_next_day(
    resources: Resources, tenant: Tenant
) -> None:
    code = await link_code(resources, tenant)
    visit = Visit(ip="203.0.113.7", user_agent=BROWSER)
    day = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)

    counted = []
    for moment in (day, day + timedelta(seconds=30), day + timedelta(days=1)):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            click = await record_click(
                session, tenant.merchant_id, code, visit, resources.cipher, now=moment
            )
        counted.append(click.counted)

    # 23:59:00 and 23:59:30 are one UTC day; the next day counts again.
    assert counted == [True, False, True]
    assert await clicks(resources, tenant, code) == 2


async def test_a_flood_from_one_ip_reaches_the_shop_but_counts_only_up_to_the_limit(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    code = await link_code(resources, tenant)
    limit = int(resources.settings.referral_click_rate_limit.split("/")[0])

    answers = [
        await edge.get(
            f"/proxy/r/{code}",
            params=signed_proxy_query(tenant),
            # A new browser each time: without the limit, every one would be a new visitor.
            headers={"x-forwarded-for": "198.51.100.99", "user-agent": f"bot/{n}"},
        )
        for n in range(limit + 5)
    ]

    assert {answer.status_code for answer in answers} == {302}
    assert await clicks(resources, tenant, code) == limit
