"""Long because every type that implements ``Node`` is refetched here, each through the router.

Global object identification through the real router: ``node(id:)`` refetches every type
that implements ``Node`` from the subgraph that owns it, another shop's ID reads as null,
``nodes(ids:)`` keeps the order, and an ID read from a list refetches the same object."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from db.models import AuditLog
from db.session import tenant_unit_of_work
from gateway.edge.auth.tokens import mint_customer_token
from subgraphs.kit.resources import Resources
from subgraphs.referrals.conversions import service as conversions
from subgraphs.referrals.conversions.fraud import PartyFacts
from subgraphs.referrals.service import create_referral_link
from tests.conftest import Tenant, add_customer
from tests.e2e.conftest import Router
from tests.e2e.test_through_the_router import graphql
from tests.ids import gid
from tests.subgraphs.admin.inbox_helpers import add_delivery, add_gdpr_request

# One field per type that only the owning subgraph resolves: asking for it makes the router
# fetch the object from its owner (where the tenant is checked), not only echo the ID.
NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Customer { pointsBalance }
    ... on PointsTransaction { points }
    ... on Reward { title }
    ... on RewardRedemption { pointsSpent reward { title } }
    ... on BonusCampaign { name }
    ... on VipTier { name }
    ... on Merchant { shopDomain }
    ... on AuditLogEvent { action }
    ... on GdprRequest { type }
    ... on WebhookDelivery { topic }
    ... on ReferralLink { code }
    ... on Referral { status }
  }
}
"""
NODES = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename id
    ... on Customer { pointsBalance }
    ... on Reward { title }
    ... on WebhookDelivery { topic }
  }
}
"""

Http = httpx.AsyncClient


@pytest_asyncio.fixture(loop_scope="session")
async def http(router: Router) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=15) as client:
        yield client


Maker = Callable[[Http, Resources, Tenant], Awaitable[tuple[str, dict[str, Any]]]]


async def _data(http: Http, tenant: Tenant, query: str, variables: dict[str, Any]) -> Any:
    body = await graphql(http, tenant, query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


async def _mutate(http: Http, tenant: Tenant, mutation: str, field: str, input: Any) -> Any:
    payload = (await _data(http, tenant, mutation, {"input": input}))[field]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


def _key(name: str) -> str:
    return f"test:{name}:{uuid.uuid4()}"


async def _reward(http: Http, tenant: Tenant, title: str = "$5 off") -> str:
    payload = await _mutate(
        http,
        tenant,
        "mutation($input: RewardCreateInput!) { rewardCreate(input: $input) "
        "{ reward { id } userErrors { code } } }",
        "rewardCreate",
        {
            "kind": "FIXED_AMOUNT",
            "title": title,
            "pointsCost": 100,
            "value": "5",
            "idempotencyKey": _key("reward"),
        },
    )
    reward_id: str = payload["reward"]["id"]
    return reward_id


async def make_customer(http: Http, resources: Resources, tenant: Tenant) -> Any:
    customer_id = await add_customer(resources, tenant, points=40)
    return gid("Customer", customer_id), {"pointsBalance": "40"}


async def make_transaction(http: Http, resources: Resources, tenant: Tenant) -> Any:
    customer = gid("Customer", await add_customer(resources, tenant))
    payload = await _mutate(
        http,
        tenant,
        "mutation($input: PointsAdjustInput!) { pointsAdjust(input: $input) "
        "{ transaction { id } userErrors { code } } }",
        "pointsAdjust",
        {"customerId": customer, "points": 25, "reason": "goodwill", "idempotencyKey": _key("a")},
    )
    return payload["transaction"]["id"], {"points": 25}


async def make_reward(http: Http, resources: Resources, tenant: Tenant) -> Any:
    return await _reward(http, tenant, "Tote bag"), {"title": "Tote bag"}


async def make_redemption(http: Http, resources: Resources, tenant: Tenant) -> Any:
    reward = await _reward(http, tenant, "$5 off")
    customer = gid("Customer", await add_customer(resources, tenant, points=150))
    payload = await _mutate(
        http,
        tenant,
        "mutation($input: RewardRedeemInput!) { rewardRedeem(input: $input) "
        "{ redemption { id } userErrors { code } } }",
        "rewardRedeem",
        {"customerId": customer, "rewardId": reward, "idempotencyKey": _key("redeem")},
    )
    return payload["redemption"]["id"], {"pointsSpent": 100, "reward": {"title": "$5 off"}}


async def make_campaign(http: Http, resources: Resources, tenant: Tenant) -> Any:
    now = datetime.now(UTC)
    payload = await _mutate(
        http,
        tenant,
        "mutation($input: CampaignCreateInput!) { campaignCreate(input: $input) "
        "{ campaign { id } userErrors { code } } }",
        "campaignCreate",
        {
            "name": "Black Friday",
            "kind": "DOUBLE_POINTS",
            "multiplier": "2",
            "startsAt": now.replace(year=now.year - 1).isoformat(),
            "endsAt": now.replace(year=now.year + 1).isoformat(),
            "idempotencyKey": _key("campaign"),
        },
    )
    return payload["campaign"]["id"], {"name": "Black Friday"}


async def make_tier(http: Http, resources: Resources, tenant: Tenant) -> Any:
    payload = await _mutate(
        http,
        tenant,
        "mutation($input: VipTierCreateInput!) { vipTierCreate(input: $input) "
        "{ vipTier { id } userErrors { code } } }",
        "vipTierCreate",
        {
            "names": [{"locale": "en", "value": "Gold"}],
            "rank": 1,
            "rules": {"minPointsEarned": 500},
            "idempotencyKey": _key("tier"),
        },
    )
    return payload["vipTier"]["id"], {"name": "Gold"}


async def make_merchant(http: Http, resources: Resources, tenant: Tenant) -> Any:
    merchant = (await _data(http, tenant, "{ merchant { id } }", {}))["merchant"]
    return merchant["id"], {"shopDomain": tenant.shop_domain}


async def make_audit_entry(http: Http, resources: Resources, tenant: Tenant) -> Any:
    await _reward(http, tenant)  # audited as REWARD_CREATED
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        entry_id = await session.scalar(
            select(AuditLog.id).where(
                AuditLog.merchant_id == tenant.merchant_id, AuditLog.action == "reward_created"
            )
        )
    assert entry_id is not None
    return gid("AuditLogEvent", entry_id), {"action": "REWARD_CREATED"}


async def make_gdpr_request(http: Http, resources: Resources, tenant: Tenant) -> Any:
    request_id = await add_gdpr_request(
        resources, tenant, request_type="customer_redact", created_at=datetime.now(UTC)
    )
    return gid("GdprRequest", request_id), {"type": "CUSTOMER_REDACT"}


async def make_delivery(http: Http, resources: Resources, tenant: Tenant) -> Any:
    delivery_id = await add_delivery(resources, tenant, topic="orders/paid")
    return gid("WebhookDelivery", delivery_id), {"topic": "ORDERS_PAID"}


async def make_referral_link(http: Http, resources: Resources, tenant: Tenant) -> Any:
    customer = gid("Customer", await add_customer(resources, tenant))
    payload = await _mutate(
        http,
        tenant,
        "mutation($input: ReferralLinkCreateInput!) { referralLinkCreate(input: $input) "
        "{ referralLink { id code } userErrors { code } } }",
        "referralLinkCreate",
        {"customerId": customer},
    )
    link = payload["referralLink"]
    return link["id"], {"code": link["code"]}


async def make_referral(http: Http, resources: Resources, tenant: Tenant) -> Any:
    advocate = await add_customer(resources, tenant)
    friend = await add_customer(resources, tenant)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        link = await create_referral_link(session, tenant.merchant_id, advocate)
        attribution = await conversions.attribute(
            session,
            tenant.merchant_id,
            link.link.code,
            friend_customer_id=friend,
            friend=PartyFacts(),
            advocate=PartyFacts(),
            source=conversions.AttributionSource.CLAIM,
            now=datetime.now(UTC),
        )
    return gid("Referral", attribution.referral.id), {"status": "PENDING"}


MAKERS: dict[str, Maker] = {
    "Customer": make_customer,
    "PointsTransaction": make_transaction,
    "Reward": make_reward,
    "RewardRedemption": make_redemption,
    "BonusCampaign": make_campaign,
    "VipTier": make_tier,
    "Merchant": make_merchant,
    "AuditLogEvent": make_audit_entry,
    "GdprRequest": make_gdpr_request,
    "WebhookDelivery": make_delivery,
    "ReferralLink": make_referral_link,
    "Referral": make_referral,
}


@pytest.mark.parametrize("type_name", sorted(MAKERS))
async def test_node_refetches_every_type_from_its_owner_and_not_for_another_shop(
    http: Http, resources: Resources, tenant: Tenant, other_tenant: Tenant, type_name: str
) -> None:
    node_id, fields = await MAKERS[type_name](http, resources, tenant)
    assert node_id.startswith(f"gid://loyalnest/{type_name}/")

    mine = await _data(http, tenant, NODE, {"id": node_id})
    theirs = await graphql(http, other_tenant, NODE, {"id": node_id})

    assert mine["node"] == {"__typename": type_name, "id": node_id, **fields}
    assert theirs["data"] == {"node": None}, theirs
    assert "errors" not in theirs


async def test_nodes_mixes_types_keeps_order_and_answers_null_where_none(
    http: Http, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    reward = await _reward(http, tenant, "Mug")
    customer, _ = await make_customer(http, resources, tenant)
    delivery, _ = await make_delivery(http, resources, tenant)
    theirs = await _reward(http, other_tenant, "Not yours")
    missing = gid("Reward", str(uuid.uuid4()))

    result = await _data(
        http, tenant, NODES, {"ids": [delivery, theirs, reward, missing, customer, reward]}
    )

    assert result["nodes"] == [
        {"__typename": "WebhookDelivery", "id": delivery, "topic": "ORDERS_PAID"},
        None,
        {"__typename": "Reward", "id": reward, "title": "Mug"},
        None,
        {"__typename": "Customer", "id": customer, "pointsBalance": "40"},
        {"__typename": "Reward", "id": reward, "title": "Mug"},
    ]


async def test_an_id_from_a_list_refetches_the_same_object(
    http: Http, resources: Resources, tenant: Tenant
) -> None:
    for title in ("First", "Second"):
        await _reward(http, tenant, title)
    listed = await _data(
        http, tenant, "{ rewards(first: 10) { nodes { id title pointsCost } } }", {}
    )
    rewards = listed["rewards"]["nodes"]

    refetched = await _data(
        http,
        tenant,
        "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Reward { title pointsCost } } }",
        {"ids": [reward["id"] for reward in rewards]},
    )

    assert [reward["title"] for reward in rewards] == ["First", "Second"]
    assert refetched["nodes"] == rewards


@pytest.mark.parametrize(
    ("node_id", "complaint"),
    [
        ("not-an-id", "is not a LoyalNest ID"),
        ("gid://shopify/Product/1", "is not a LoyalNest ID"),
        (f"gid://loyalnest/Nothing/{uuid.uuid4()}", "names no LoyalNest type"),
    ],
)
async def test_a_malformed_id_is_bad_user_input_through_the_router(
    http: Http, tenant: Tenant, node_id: str, complaint: str
) -> None:
    body = await graphql(http, tenant, NODE, {"id": node_id})

    assert body["data"] == {"node": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert complaint in error["message"]


async def test_an_id_of_the_wrong_type_is_bad_user_input_where_a_type_is_expected(
    http: Http, tenant: Tenant
) -> None:
    reward = await _reward(http, tenant)

    body = await graphql(
        http, tenant, "query($id: ID!) { customer(id: $id) { id } }", {"id": reward}
    )

    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "is the ID of a Reward; a Customer ID is expected here" in error["message"]


async def test_nodes_takes_at_most_100_ids(http: Http, tenant: Tenant) -> None:
    ids = [gid("Reward", str(uuid.uuid4())) for _ in range(101)]

    body = await graphql(http, tenant, NODES, {"ids": ids})

    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "at most 100 ids" in error["message"]


async def test_a_deleted_reward_reads_as_null(http: Http, tenant: Tenant) -> None:
    reward = await _reward(http, tenant, "Gone soon")
    await _mutate(
        http,
        tenant,
        "mutation($input: RewardDeleteInput!) { rewardDelete(input: $input) "
        "{ deletedRewardId userErrors { code } } }",
        "rewardDelete",
        {"id": reward},
    )

    body = await graphql(http, tenant, NODE, {"id": reward})

    # Nothing but the request's cost in `extensions`: no errors.
    assert {key: body[key] for key in body if key != "extensions"} == {"data": {"node": None}}


async def test_a_webhook_inbox_event_is_live_only_and_reads_as_null(
    http: Http, tenant: Tenant
) -> None:
    # Its ID says it is a notification that was never stored, unlike an audit entry's.
    event = gid("WebhookInboxEvent", str(uuid.uuid4()))

    body = await graphql(http, tenant, NODE, {"id": event})

    # Nothing but the request's cost in `extensions`: no errors.
    assert {key: body[key] for key in body if key != "extensions"} == {"data": {"node": None}}


async def test_a_storefront_token_refetches_its_own_customer_only(
    http: Http, resources: Resources, tenant: Tenant
) -> None:
    me = await add_customer(resources, tenant, points=30)
    neighbour = await add_customer(resources, tenant, points=70)
    reward = await _reward(http, tenant, "For everyone")
    token = mint_customer_token(
        shop_domain=tenant.shop_domain, customer_id=me, secret=resources.settings.token_secret
    )
    storefront = Tenant(merchant_id=tenant.merchant_id, shop_domain=tenant.shop_domain, token=token)

    result = await _data(
        http,
        storefront,
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": [gid("Customer", me), gid("Customer", neighbour), reward]},
    )

    # Not even the existence of another customer shows; the catalog is everyone's.
    assert result["nodes"] == [{"id": gid("Customer", me)}, None, {"id": reward}]
