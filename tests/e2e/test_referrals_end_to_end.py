"""Referrals end to end, every part a real process: the merchant configures the program and
reads the results through the router (and the four subgraph processes behind it); shoppers
click the link at the edge app (`loyalnest serve edge`); Shopify's signed webhooks reach the
same edge app; `loyalnest worker` applies them and pays the rewards.

What it proves: a click is counted once per visitor per day (app proxy and plain redirect);
a friend's `customers/create` carrying the code makes a pending referral; their qualifying
`orders/paid` completes it; the friend's reward is paid at once and the advocate's only after
the hold; a full refund inside the hold cancels the advocate's reward, which then never pays;
each delivery replayed ten times at once (one webhook id, and ten ids for one event) changes
nothing twice. And the advocate's 5th completed referral pays the tier reward, the 4th not."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select, update

from db.models import PointsTransaction, ReferralReward
from db.session import tenant_unit_of_work
from subgraphs.kit.global_ids import encode_global_id, local_id
from subgraphs.kit.resources import Resources
from subgraphs.kit.settings import Settings
from tests.conftest import Tenant, add_customer
from tests.e2e.conftest import Router
from tests.gateway.auth.test_app_proxy import proxy_signed
from tests.gateway.webhooks.shopify import (
    customer_payload,
    inbox,
    order_payload,
    refund_payload,
    signed,
)
from tests.services import start_edge, start_worker, stop_process

PATIENCE_SECONDS = 30
REPLAYS = 10
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)"

PROGRAM_UPDATE = """mutation($input: ReferralProgramUpdateInput!) {
  referralProgramUpdate(input: $input) { referralProgram { holdHours } userErrors { code field } }
}"""
LINK_CREATE = """mutation($customerId: ID!) {
  referralLinkCreate(input: {customerId: $customerId}) {
    referralLink { code } userErrors { code field }
  }
}"""
LINK_CLICKS = "query($code: String!) { referralLink(code: $code) { clicks } }"
REFERRALS = """{ referrals(first: 20) { nodes {
  status qualifyingOrderId createdAt completedAt advocate { id } friend { id }
  rewards { side points status releaseAt issuedAt }
} } }"""

T = TypeVar("T")


@pytest.fixture(scope="module")
def edge_url(settings: Settings) -> Iterator[str]:
    process, url = start_edge(settings)
    try:
        yield url
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def worker(settings: Settings) -> Iterator[None]:
    process = start_worker(settings)
    try:
        yield
    finally:
        stop_process(process)


@pytest_asyncio.fixture(loop_scope="session")
async def edge(edge_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=edge_url, timeout=30) as http:
        yield http


class Merchant:
    """The merchant's dashboard: GraphQL through the router with their session token."""

    def __init__(self, http: httpx.AsyncClient, tenant: Tenant) -> None:
        self.http, self.tenant = http, tenant

    async def data(self, query: str, **variables: Any) -> Any:
        response = await self.http.post(
            "", json={"query": query, "variables": variables}, headers=self.tenant.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    async def configure(self, **program: Any) -> None:
        data = await self.data(PROGRAM_UPDATE, input=program)
        assert data["referralProgramUpdate"]["userErrors"] == []

    async def referrals(self) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = (await self.data(REFERRALS))["referrals"]["nodes"]
        return sorted(nodes, key=lambda referral: referral["createdAt"])

    async def clicks(self, code: str) -> int:
        return int((await self.data(LINK_CLICKS, code=code))["referralLink"]["clicks"])


@pytest_asyncio.fixture(loop_scope="session")
async def merchant(router: Router, tenant: Tenant) -> AsyncIterator[Merchant]:
    async with httpx.AsyncClient(base_url=router.url, timeout=30) as http:
        yield Merchant(http, tenant)


async def eventually(read: Callable[[], Awaitable[T]], until: Callable[[T], bool]) -> T:
    """``read()`` again until ``until`` holds of its value (the worker works asynchronously);
    fails with the last value after PATIENCE_SECONDS."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        value = await read()
        if until(value):
            return value
        assert time.monotonic() < deadline, f"timed out; last seen: {value}"
        await asyncio.sleep(0.2)


async def replayed(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant, topic: str, payload: Any
) -> None:
    """One event as Shopify may deliver it: the same delivery retried ten times at once (one
    webhook id), and the event sent again ten times at once under fresh ids."""
    once = signed(topic, payload, shop=tenant.shop_domain)
    copies = [once] * REPLAYS + [
        signed(topic, payload, shop=tenant.shop_domain, webhook_id=str(uuid.uuid4()))
        for _ in range(REPLAYS)
    ]
    answers = await asyncio.gather(
        *(edge.post("/webhooks/shopify", content=c.body, headers=c.headers) for c in copies)
    )
    assert [answer.status_code for answer in answers] == [200] * len(copies)
    # The retries of one delivery are stored once; each fresh id is a delivery of its own.
    stored = [row["webhook_id"] for row in await inbox(resources, tenant.merchant_id)]
    assert stored.count(once.headers["x-shopify-webhook-id"]) == 1


async def delivered(edge: httpx.AsyncClient, tenant: Tenant, topic: str, payload: Any) -> None:
    delivery = signed(topic, payload, shop=tenant.shop_domain)
    answer = await edge.post("/webhooks/shopify", content=delivery.body, headers=delivery.headers)
    assert answer.status_code == 200, answer.text


async def all_applied(resources: Resources, tenant: Tenant) -> None:
    """Wait until the worker has applied every delivery the shop was sent."""

    async def statuses() -> set[str]:
        return {row["status"] for row in await inbox(resources, tenant.merchant_id)}

    await eventually(statuses, lambda seen: seen == {"done"})


async def referral_credits(resources: Resources, tenant: Tenant) -> dict[str, list[int]]:
    """Customer id -> the points of each referral credit in their ledger."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.execute(
            select(PointsTransaction.customer_id, PointsTransaction.points).where(
                PointsTransaction.kind == "referral"
            )
        )
        credits: dict[str, list[int]] = {}
        for owner, points in rows:
            credits.setdefault(owner, []).append(points)
    return credits


async def end_the_hold(resources: Resources, tenant: Tenant) -> None:
    """The clock moves past every pending reward's release time. A hold is whole hours
    (`holdHours`), so the test brings the release time to now instead of waiting an hour."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await session.execute(
            update(ReferralReward)
            .where(ReferralReward.status == "pending")
            .values(release_at=ReferralReward.created_at)
        )


def reward(referral: dict[str, Any], side: str) -> dict[str, Any]:
    grants: list[dict[str, Any]] = referral["rewards"]
    [found] = [grant for grant in grants if grant["side"] == side]
    return found


async def shop_with_advocate(
    merchant: Merchant, resources: Resources, tenant: Tenant
) -> tuple[str, str]:
    """(the advocate's API id, their referral code), the link made through the router."""
    advocate = encode_global_id("Customer", await add_customer(resources, tenant))
    data = await merchant.data(LINK_CREATE, customerId=advocate)
    assert data["referralLinkCreate"]["userErrors"] == []
    return advocate, data["referralLinkCreate"]["referralLink"]["code"]


def friends_signup(shopify_id: int, name: str, code: str) -> dict[str, Any]:
    return {**customer_payload(shopify_id, f"{name}@example.org"), "note": f"referral_code: {code}"}


def friends_order(order_id: int, shopify_id: int, name: str) -> dict[str, Any]:
    # 2 x 20.00: above the program's 25.00 minimum.
    return order_payload(
        order_id, lines=[(order_id * 10, 2, "20.00")], customer_id=shopify_id,
        email=f"{name}@example.org",
    )  # fmt: skip


async def test_clicks_count_once_per_visitor_per_day_on_both_kinds_of_link(
    edge: httpx.AsyncClient, merchant: Merchant, resources: Resources, tenant: Tenant
) -> None:
    _, code = await shop_with_advocate(merchant, resources, tenant)

    def proxied() -> httpx.QueryParams:
        return proxy_signed(
            [
                ("shop", tenant.shop_domain),
                ("logged_in_customer_id", ""),
                ("path_prefix", "/apps/loyalnest"),
                ("timestamp", str(int(time.time()))),
            ]
        )

    ada = {"x-forwarded-for": "203.0.113.7, 10.0.0.1", "user-agent": BROWSER}
    grace = {"x-forwarded-for": "198.51.100.23", "user-agent": BROWSER}
    clicks = [edge.get(f"/proxy/r/{code}", params=proxied(), headers=ada) for _ in range(5)]
    clicks += [edge.get(f"/proxy/r/{code}", params=proxied(), headers=grace) for _ in range(3)]
    # The plain redirect (a shared email or SMS link): the visitor is the caller's own IP.
    direct = f"/r/{tenant.shop_domain}/{code}"
    clicks += [edge.get(direct, headers={"user-agent": BROWSER}) for _ in range(4)]
    # Unsigned: the shopper still reaches the shop, and nothing is counted.
    unsigned = edge.get(f"/proxy/r/{code}", headers={"x-forwarded-for": "192.0.2.1"})
    answers = await asyncio.gather(*clicks, unsigned)

    assert {answer.status_code for answer in answers} == {302}
    assert {answer.headers["location"] for answer in answers[:8]} == {f"/?ref={code}"}
    assert {answer.headers["location"] for answer in answers[8:12]} == {
        f"https://{tenant.shop_domain}/?ref={code}"
    }
    assert answers[-1].headers["location"] == f"/?ref={code}"
    # Ada, Grace (through the app proxy) and the direct visitor: three people.
    assert await merchant.clicks(code) == 3


@pytest.mark.usefixtures("worker")
async def test_a_referral_from_signup_to_both_rewards_each_paid_once(
    edge: httpx.AsyncClient, merchant: Merchant, resources: Resources, tenant: Tenant
) -> None:
    await merchant.configure(holdHours=1, minOrderAmount="25")
    advocate, code = await shop_with_advocate(merchant, resources, tenant)

    # The friend signs up with the code: one pending referral, however often it arrives.
    await replayed(edge, resources, tenant, "customers/create", friends_signup(2, "grace", code))
    await all_applied(resources, tenant)
    [pending] = await merchant.referrals()
    assert (pending["status"], pending["advocate"]["id"]) == ("PENDING", advocate)
    assert pending["rewards"] == []
    grace = pending["friend"]["id"]

    # Their paid order completes it: the friend is paid at once, the advocate is held.
    await replayed(edge, resources, tenant, "orders/paid", friends_order(5001, 2, "grace"))
    await all_applied(resources, tenant)
    [completed] = await eventually(
        merchant.referrals, lambda seen: reward(seen[0], "friend")["status"] == "ISSUED"
    )
    assert (completed["status"], completed["qualifyingOrderId"]) == ("COMPLETED", "5001")
    held = reward(completed, "advocate")
    assert (held["status"], held["points"], held["issuedAt"]) == ("PENDING", 500, None)
    hold = datetime.fromisoformat(held["releaseAt"]) - datetime.fromisoformat(
        completed["completedAt"]
    )
    assert hold == timedelta(hours=1)

    # A second friend whose qualifying order is refunded in full inside the hold.
    await replayed(edge, resources, tenant, "customers/create", friends_signup(3, "alan", code))
    await replayed(edge, resources, tenant, "orders/paid", friends_order(5002, 3, "alan"))
    await all_applied(resources, tenant)
    await eventually(
        merchant.referrals, lambda seen: reward(seen[1], "friend")["status"] == "ISSUED"
    )
    await replayed(
        edge, resources, tenant, "refunds/create", refund_payload(9002, 5002, [(50020, 2, "40")])
    )
    await all_applied(resources, tenant)
    first, refunded = await merchant.referrals()
    assert reward(refunded, "advocate")["status"] == "CANCELLED"
    alan = refunded["friend"]["id"]

    # The hold ends for both advocate rewards: the first is paid (the worker has run its
    # payout since), the cancelled one never.
    await end_the_hold(resources, tenant)
    first, refunded = await eventually(
        merchant.referrals, lambda seen: reward(seen[0], "advocate")["status"] == "ISSUED"
    )
    assert reward(refunded, "advocate")["status"] == "CANCELLED"
    assert reward(first, "friend")["status"] == reward(refunded, "friend")["status"] == "ISSUED"
    assert await referral_credits(resources, tenant) == {
        local_id(grace, "Customer"): [250],
        local_id(alan, "Customer"): [250],
        local_id(advocate, "Customer"): [500],
    }


@pytest.mark.usefixtures("worker")
async def test_the_fifth_completed_referral_pays_the_tier_reward_and_the_fourth_does_not(
    edge: httpx.AsyncClient, merchant: Merchant, resources: Resources, tenant: Tenant
) -> None:
    await merchant.configure(
        holdHours=0, minOrderAmount="25", tiers=[{"fromCount": 5, "points": 1000}]
    )
    advocate, code = await shop_with_advocate(merchant, resources, tenant)

    # Replays are the other test's business: here each event arrives once. Five friends
    # sign up; then their orders complete the referrals one after another.
    friends = [(100 + number, f"friend{number}x") for number in range(5)]
    await asyncio.gather(
        *(
            delivered(edge, tenant, "customers/create", friends_signup(shopify_id, name, code))
            for shopify_id, name in friends
        )
    )
    await all_applied(resources, tenant)
    for number, (shopify_id, name) in enumerate(friends):
        await delivered(edge, tenant, "orders/paid", friends_order(6000 + number, shopify_id, name))
        await all_applied(resources, tenant)

    referrals = await eventually(
        merchant.referrals,
        lambda seen: (
            len(seen) == 5
            and all(reward(referral, "advocate")["status"] == "ISSUED" for referral in seen)
        ),
    )
    # The friends signed up at once (in no set order), so count completions, not signups.
    referrals.sort(key=lambda referral: datetime.fromisoformat(referral["completedAt"]))
    assert [reward(referral, "advocate")["points"] for referral in referrals] == [500] * 4 + [1000]
    # Into the ledger once each (paid in whatever order a payout run takes them).
    credits = await referral_credits(resources, tenant)
    assert sorted(credits[local_id(advocate, "Customer")]) == [500] * 4 + [1000]
