"""Discount rewards of referrals, issued by the worker through the shop's Admin API (respx
mocks Shopify's GraphQL endpoint): a single-use code for the customer, once per
``referral:{id}:{side}`` however often (or concurrently) the job runs, even when Shopify's
answer to a create was lost; a refusal fails the reward with the reason; the code is shown on
the referral to its owner only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
import respx
from purgatory import AsyncCircuitBreakerFactory
from sqlalchemy import select, update

from db.models import Customer, ReferralReward
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.points.shopify import ShopifyConnector
from subgraphs.referrals.conversions.payouts import discount_code
from tests.conftest import SubgraphClient, Tenant
from tests.ids import gid
from tests.subgraphs.points.test_redemption import connect_shopify
from tests.subgraphs.referrals.test_conversions import (
    NOW,
    attribute,
    friend,
    order,
    shop_with_advocate,
)
from tests.subgraphs.referrals.test_referral_api import data, shopper
from worker.referrals.jobs import pay_due_referral_rewards

PROGRAM = {
    "hold_hours": 0,
    "friend_reward": {"kind": "percentage", "value": "15"},
    "advocate_reward": {"kind": "free_shipping"},
}
# The refetch the router makes for node(id:), sent to the subgraph as it does.
REWARDS = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Referral {
  rewards { side kind value status discountCode error } } } }"""

ADVOCATES_REWARDS = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer {
  referrals(first: 5) { nodes { rewards { side discountCode } } } } } }"""


async def no_wait(_: float) -> None:
    return None


@pytest.fixture
def mock_http() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest_asyncio.fixture(loop_scope="session")
async def shopify() -> AsyncIterator[ShopifyConnector]:
    async with httpx.AsyncClient() as http:
        yield ShopifyConnector(
            breakers=AsyncCircuitBreakerFactory(default_threshold=50),
            http=http,
            sleep=no_wait,
            base_delay=0.001,
        )


def created(mutation: str, discount_id: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={"data": {mutation: {"codeDiscountNode": {"id": discount_id}, "userErrors": []}}},
    )


def refused(mutation: str, code: str) -> httpx.Response:
    error = {"field": ["code"], "code": code, "message": f"Code {code.lower()}"}
    return httpx.Response(
        200, json={"data": {mutation: {"codeDiscountNode": None, "userErrors": [error]}}}
    )


def answering(
    mock_http: respx.MockRouter, url: str, routes: dict[str, list[httpx.Response]]
) -> respx.Route:
    """Shopify's endpoint answering each operation (by the field it names) with its answers
    in turn, the last one for good."""

    def answer(request: httpx.Request) -> httpx.Response:
        query = json.loads(request.content)["query"]
        for name, answers in routes.items():
            if name in query:
                return answers.pop(0) if len(answers) > 1 else answers[0]
        raise AssertionError(f"unexpected query {query}")

    return mock_http.post(url).mock(side_effect=answer)


async def completed_referral(resources: Resources, tenant: Tenant) -> tuple[str, str, str]:
    """(referral id, advocate, friend) of a completed referral with discount rewards."""
    shop = await shop_with_advocate(resources, tenant, **PROGRAM)
    friend_id = await friend(resources, shop)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await session.execute(
            update(Customer).where(Customer.id == friend_id).values(shopify_customer_id="9001")
        )
    attribution = await attribute(resources, shop, friend_id)
    await order(resources, shop, friend_id, "o-1")
    return attribution.referral.id, shop.advocate_id, friend_id


async def rewards_of(resources: Resources, tenant: Tenant, referral_id: str) -> dict[str, Any]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalars(
            select(ReferralReward).where(ReferralReward.referral_id == referral_id)
        )
        return {row.side: row for row in rows}


def sent(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


async def test_each_side_gets_its_own_code_once_however_often_the_job_runs(
    resources: Resources,
    tenant: Tenant,
    shopify: ShopifyConnector,
    mock_http: respx.MockRouter,
) -> None:
    referral_id, _, _ = await completed_referral(resources, tenant)
    url = await connect_shopify(resources, tenant)
    routes = {
        "discountCodeBasicCreate": [created("discountCodeBasicCreate", "gid://shopify/D/1")],
        "discountCodeFreeShippingCreate": [
            created("discountCodeFreeShippingCreate", "gid://shopify/D/2")
        ],
    }
    route = answering(mock_http, url, routes)

    await asyncio.gather(
        *(pay_due_referral_rewards(resources, now=NOW, shopify=shopify) for _ in range(3))
    )
    await pay_due_referral_rewards(resources, now=NOW + timedelta(days=1), shopify=shopify)
    rewards = await rewards_of(resources, tenant, referral_id)

    bodies = sent(route)
    assert sorted("FreeShipping" in body["query"] for body in bodies) == [False, True]
    basic = next(body for body in bodies if "discountCodeBasicCreate" in body["query"])
    friend_input = basic["variables"]["input"]
    assert friend_input["code"] == discount_code(resources.cipher, f"referral:{referral_id}:friend")
    assert friend_input["customerGets"]["value"] == {"percentage": 0.15}
    assert friend_input["context"] == {"customers": {"add": ["gid://shopify/Customer/9001"]}}
    assert friend_input["usageLimit"] == 1
    assert {side: (row.status, row.discount_id) for side, row in rewards.items()} == {
        "friend": ("issued", "gid://shopify/D/1"),
        "advocate": ("issued", "gid://shopify/D/2"),
    }


async def test_a_create_whose_answer_was_lost_is_found_again_not_made_twice(
    resources: Resources,
    tenant: Tenant,
    shopify: ShopifyConnector,
    mock_http: respx.MockRouter,
) -> None:
    referral_id, _, _ = await completed_referral(resources, tenant)
    url = await connect_shopify(resources, tenant)
    down = [httpx.Response(503)] * 3
    routes = {
        # The first run: Shopify created the code but every answer was lost.
        "discountCodeBasicCreate": [*down, refused("discountCodeBasicCreate", "TAKEN")],
        "discountCodeFreeShippingCreate": [
            *down,
            created("discountCodeFreeShippingCreate", "gid://shopify/D/8"),
        ],
        "codeDiscountNodeByCode": [
            httpx.Response(
                200, json={"data": {"codeDiscountNodeByCode": {"id": "gid://shopify/D/7"}}}
            )
        ],
    }
    route = answering(mock_http, url, routes)

    await pay_due_referral_rewards(resources, now=NOW, shopify=shopify)
    after_outage = await rewards_of(resources, tenant, referral_id)
    await pay_due_referral_rewards(resources, now=NOW, shopify=shopify)
    rewards = await rewards_of(resources, tenant, referral_id)

    assert {row.status for row in after_outage.values()} == {"pending"}
    codes = {
        body["variables"]["input"]["code"]
        for body in sent(route)
        if "discountCodeBasicCreate" in body["query"]
    }
    assert len(codes) == 1  # the same code on every try
    assert (rewards["friend"].status, rewards["friend"].discount_id) == (
        "issued",
        "gid://shopify/D/7",
    )
    assert rewards["advocate"].status == "issued"


async def test_a_refused_discount_fails_with_the_reason_and_is_not_tried_again(
    resources: Resources,
    tenant: Tenant,
    shopify: ShopifyConnector,
    mock_http: respx.MockRouter,
) -> None:
    referral_id, _, _ = await completed_referral(resources, tenant)
    url = await connect_shopify(resources, tenant)
    routes = {
        "discountCodeBasicCreate": [refused("discountCodeBasicCreate", "INVALID")],
        "discountCodeFreeShippingCreate": [
            created("discountCodeFreeShippingCreate", "gid://shopify/D/3")
        ],
    }
    route = answering(mock_http, url, routes)

    await pay_due_referral_rewards(resources, now=NOW, shopify=shopify)
    calls = route.call_count
    await pay_due_referral_rewards(resources, now=NOW, shopify=shopify)
    rewards = await rewards_of(resources, tenant, referral_id)

    assert route.call_count == calls == 2
    assert rewards["friend"].status == "failed"
    assert "invalid" in (rewards["friend"].last_error or "")
    assert rewards["advocate"].status == "issued"


async def test_the_code_is_shown_on_the_referral_to_its_owner_only(
    resources: Resources,
    tenant: Tenant,
    shopify: ShopifyConnector,
    referrals_client: SubgraphClient,
) -> None:
    # A shop without a Shopify connection: sandbox codes, nothing is asked of Shopify.
    referral_id, advocate, friend_id = await completed_referral(resources, tenant)
    await pay_due_referral_rewards(resources, now=NOW, shopify=shopify)
    variables = {"r": [{"__typename": "Referral", "id": gid("Referral", referral_id)}]}

    as_friend = await data(
        referrals_client, REWARDS, variables, headers=shopper(resources, tenant, friend_id)
    )
    as_staff = await data(referrals_client, REWARDS, variables, tenant=tenant)
    as_advocate = await data(
        referrals_client,
        ADVOCATES_REWARDS,
        {"r": [{"__typename": "Customer", "id": gid("Customer", advocate)}]},
        headers=shopper(resources, tenant, advocate),
    )
    rewards = await rewards_of(resources, tenant, referral_id)

    mine = {reward["side"]: reward for reward in as_friend["_entities"][0]["rewards"]}
    assert mine["friend"]["discountCode"] == discount_code(
        resources.cipher, f"referral:{referral_id}:friend"
    )
    assert mine["friend"] | {"discountCode": None} == {
        "side": "friend",
        "kind": "PERCENTAGE",
        "value": "15.00",
        "status": "ISSUED",
        "discountCode": None,
        "error": None,
    }
    assert mine["advocate"]["discountCode"] is None  # the advocate's, not the friend's
    assert {reward["discountCode"] for reward in as_staff["_entities"][0]["rewards"]} == {None}
    assert rewards["friend"].discount_id is None
    advocates = {
        reward["side"]: reward["discountCode"]
        for reward in as_advocate["_entities"][0]["referrals"]["nodes"][0]["rewards"]
    }
    assert advocates == {
        "advocate": discount_code(resources.cipher, f"referral:{referral_id}:advocate"),
        "friend": None,
    }
