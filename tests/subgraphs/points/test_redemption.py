"""Long because redemption has many money paths (concurrency, Shopify failures, the sweeper).

rewardRedeem: points become a discount code exactly once; a discount Shopify does not create
gives the points back; codes are stored encrypted; redemptions left pending by a crash are
settled by the sweeper. Shopify is mocked at HTTP level (respx); everything else is real."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
import stamina
from purgatory import AsyncCircuitBreakerFactory
from sqlalchemy import select, update
from structlog.testing import capture_logs

from db.crypto import DecryptionError
from db.encryption_contexts import CUSTOMERS_EMAIL, MERCHANTS_API_TOKEN, REWARD_REDEMPTIONS_CODE
from db.ids import new_id
from db.models import Merchant, PointsTransaction, RewardKind, RewardRedemption
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.integrations.shopify_rate_limits import RateLimitMonitor
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.program.service import update_program_config
from subgraphs.points.rewards.jobs import resolve_stale_redemptions
from subgraphs.points.rewards.redemption import (
    RedeemCommand,
    begin_redemption,
    redeem_reward,
)
from subgraphs.points.rewards.service import RewardTerms, create_reward
from subgraphs.points.shopify import ShopifyConnector
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.ids import gid
from tests.subgraphs.points.ledger_helpers import ledger_state, set_customer_facts
from tests.subgraphs.points.test_rewards import set_currencies

REDEEM = """
mutation($input: RewardRedeemInput!) {
  rewardRedeem(input: $input) {
    redemption {
      id status pointsSpent code sandbox createdAt
      value { amount currencyCode }
      reward { id title }
    }
    customer { id pointsBalance }
    userErrors { field message code }
  }
}
"""
CUSTOMER_REDEMPTIONS = """
query($first: Int!) {
  customers(first: $first) {
    edges { node { id redemptions(first: 2) {
      edges { node { id status code reward { title value { amount } } } }
      pageInfo { hasNextPage }
    } } }
  }
}
"""
CREATED_BASIC = {
    "discountCodeBasicCreate": {
        "codeDiscountNode": {"id": "gid://shopify/DiscountCodeNode/501"},
        "userErrors": [],
    }
}
CREATED_FREE_SHIPPING = {
    "discountCodeFreeShippingCreate": {
        "codeDiscountNode": {"id": "gid://shopify/DiscountCodeNode/502"},
        "userErrors": [],
    }
}


# --- set-up ---------------------------------------------------------------------------------


async def new_reward(resources: Resources, tenant: Tenant, **terms: Any) -> str:
    defaults: dict[str, Any] = {
        "kind": RewardKind.FIXED_AMOUNT,
        "title": "$5 off",
        "points_cost": 100,
        "value": Decimal("5.00"),
    }
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        reward = await create_reward(
            WriteContext(session, tenant.merchant_id),
            RewardTerms(**{**defaults, **terms}),
            idempotency_key=f"test:reward:{new_id()}",
        )
    return reward.id


async def redeem(
    client: SubgraphClient,
    tenant: Tenant,
    customer_id: str,
    reward_id: str,
    key: str,
    currency: str | None = None,
) -> dict[str, Any]:
    body = await client.execute(
        REDEEM,
        {
            "input": {
                "customerId": gid("Customer", customer_id),
                "rewardId": gid("Reward", reward_id),
                "idempotencyKey": key,
                "currencyCode": currency,
            }
        },
        tenant=tenant,
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["rewardRedeem"]
    return payload


def error_codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["userErrors"]]


async def connect_shopify(resources: Resources, tenant: Tenant) -> str:
    """Give the merchant an Admin API token, as the OAuth install would; returns its API URL."""
    token = resources.cipher.encrypt("shpat_test_token", context=MERCHANTS_API_TOKEN)
    async with system_unit_of_work(resources.sessions) as session:
        await session.execute(
            update(Merchant)
            .where(Merchant.id == tenant.merchant_id)
            .values(api_token_encrypted=token)
        )
    return f"https://{tenant.shop_domain}/admin/api/2025-10/graphql.json"


async def redemptions_of(
    resources: Resources, tenant: Tenant, customer_id: str
) -> list[RewardRedemption]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalars(
            select(RewardRedemption)
            .where(
                RewardRedemption.merchant_id == tenant.merchant_id,
                RewardRedemption.customer_id == customer_id,
            )
            .order_by(RewardRedemption.created_at, RewardRedemption.id)
        )
        return list(rows)


async def ledger_of(
    resources: Resources, tenant: Tenant, customer_id: str
) -> list[tuple[str, int]]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.execute(
            select(PointsTransaction.kind, PointsTransaction.points)
            .where(
                PointsTransaction.merchant_id == tenant.merchant_id,
                PointsTransaction.customer_id == customer_id,
            )
            .order_by(PointsTransaction.created_at, PointsTransaction.id)
        )
        return [(kind, points) for kind, points in rows]


def cost(available: float = 1990, requested: float = 10, restore: float = 100) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {
                "maximumAvailable": 2000,
                "currentlyAvailable": available,
                "restoreRate": restore,
            },
        }
    }


def shopify_ok(data: dict[str, Any], available: float = 1990) -> httpx.Response:
    return httpx.Response(200, json={"data": data, "extensions": cost(available)})


def sent(route: respx.Route, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[index].request.content)
    return body


class Sleeps:
    """Records the waits the Shopify client asks for instead of spending them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def shopify() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest.fixture
def no_backoff_waits() -> Iterator[None]:
    # stamina's testing mode: same number of attempts, no real waits between them.
    with stamina.set_testing(True, attempts=3):
        yield


# --- sandbox merchant -----------------------------------------------------------------------


async def test_sandbox_redemption_spends_points_and_issues_a_local_code(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=1000)
    reward_id = await new_reward(resources, tenant, points_cost=500)

    payload = await redeem(points_client, tenant, customer_id, reward_id, "redeem-1")

    assert payload["userErrors"] == []
    redemption = payload["redemption"]
    assert redemption["status"] == "ISSUED"
    assert redemption["sandbox"] is True
    assert redemption["pointsSpent"] == 500
    assert redemption["code"].startswith("LN-")
    assert len(redemption["code"]) == 15
    assert redemption["value"] == {"amount": "5.00", "currencyCode": "USD"}
    assert redemption["reward"] == {"id": gid("Reward", reward_id), "title": "$5 off"}
    assert payload["customer"] == {"id": gid("Customer", customer_id), "pointsBalance": "500"}
    assert await ledger_of(resources, tenant, customer_id) == [("adjust", 1000), ("redeem", -500)]
    assert (await ledger_state(resources, tenant, customer_id)).consistent
    [row] = await redemptions_of(resources, tenant, customer_id)
    assert (row.status, row.shopify_discount_id, row.refund_transaction_id) == (
        "issued",
        None,
        None,
    )


async def test_codes_are_stored_encrypted(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=100)
    reward_id = await new_reward(resources, tenant)

    payload = await redeem(points_client, tenant, customer_id, reward_id, "secret-code")

    code = payload["redemption"]["code"]
    [row] = await redemptions_of(resources, tenant, customer_id)
    assert code not in row.code_encrypted
    assert code.removeprefix("LN-") not in row.code_encrypted
    assert row.code_encrypted.startswith("v1:")
    assert resources.cipher.decrypt(row.code_encrypted, context=REWARD_REDEMPTIONS_CODE) == code
    # Bound to its column: the ciphertext copied elsewhere does not decrypt.
    with pytest.raises(DecryptionError):
        resources.cipher.decrypt(row.code_encrypted, context=CUSTOMERS_EMAIL)


async def test_replaying_a_key_returns_the_same_redemption_and_spends_once(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=1000)
    other_customer = await add_customer(resources, tenant, points=1000)
    reward_id = await new_reward(resources, tenant)
    other_reward = await new_reward(resources, tenant, title="other")

    first = await redeem(points_client, tenant, customer_id, reward_id, "tap-1")
    again = await redeem(points_client, tenant, customer_id, reward_id, "tap-1")
    concurrent = await asyncio.gather(
        *(redeem(points_client, tenant, customer_id, reward_id, "tap-1") for _ in range(5))
    )

    assert again["userErrors"] == []
    for replay in (again, *concurrent):
        assert replay["redemption"]["id"] == first["redemption"]["id"]
        assert replay["redemption"]["code"] == first["redemption"]["code"]
        assert replay["customer"]["pointsBalance"] == "900"
    assert await ledger_of(resources, tenant, customer_id) == [("adjust", 1000), ("redeem", -100)]
    assert len(await redemptions_of(resources, tenant, customer_id)) == 1

    for who, what in ((customer_id, other_reward), (other_customer, reward_id)):
        reused = await redeem(points_client, tenant, who, what, "tap-1")
        assert reused["redemption"] is None
        assert reused["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert reused["userErrors"][0]["field"] == ["input", "idempotencyKey"]
    assert (await ledger_state(resources, tenant, other_customer)).balance == 1000


async def test_per_customer_limit(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=1000)
    someone_else = await add_customer(resources, tenant, points=1000)
    reward_id = await new_reward(resources, tenant, per_customer_limit=2)

    results = [
        await redeem(points_client, tenant, customer_id, reward_id, f"limit-{n}") for n in range(3)
    ]

    assert [error_codes(r) for r in results] == [[], [], ["REWARD_LIMIT_REACHED"]]
    assert results[2]["redemption"] is None
    assert results[2]["userErrors"][0]["field"] == ["input", "rewardId"]
    assert (await ledger_state(resources, tenant, customer_id)).balance == 800
    # The limit is per customer.
    theirs = await redeem(points_client, tenant, someone_else, reward_id, "limit-other")
    assert theirs["userErrors"] == []


async def test_unavailable_rewards_are_refused_without_spending(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=1000)
    now = datetime.now(UTC)
    switched_off = await new_reward(resources, tenant, active=False)
    not_started = await new_reward(resources, tenant, starts_at=now + timedelta(hours=1))
    ended = await new_reward(
        resources, tenant, starts_at=now - timedelta(days=2), ends_at=now - timedelta(seconds=1)
    )
    deleted = await new_reward(resources, tenant)
    await points_client.execute(
        "mutation($id: ID!) { rewardDelete(input: {id: $id}) { userErrors { code } } }",
        {"id": gid("Reward", deleted)},
        tenant=tenant,
    )

    cases = [
        (switched_off, "REWARD_UNAVAILABLE"),
        (not_started, "REWARD_UNAVAILABLE"),
        (ended, "REWARD_UNAVAILABLE"),
        (deleted, "REWARD_NOT_FOUND"),
        (str(uuid.uuid4()), "REWARD_NOT_FOUND"),
    ]
    for n, (reward_id, code) in enumerate(cases):
        payload = await redeem(points_client, tenant, customer_id, reward_id, f"unavailable-{n}")
        assert error_codes(payload) == [code], reward_id
        assert payload["userErrors"][0]["field"] == ["input", "rewardId"]
        assert payload["redemption"] is None
    assert await ledger_of(resources, tenant, customer_id) == [("adjust", 1000)]
    assert await redemptions_of(resources, tenant, customer_id) == []


async def test_value_in_the_shoppers_presentment_currency(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await set_currencies(resources, tenant, "USD", {"EUR": "0.92"})
    customer_id = await add_customer(resources, tenant, points=1000)
    fixed = await new_reward(resources, tenant)
    percent = await new_reward(
        resources, tenant, kind=RewardKind.PERCENTAGE, value=Decimal(10), title="10% off"
    )

    in_euros = await redeem(points_client, tenant, customer_id, fixed, "eur", currency="EUR")
    percentage = await redeem(points_client, tenant, customer_id, percent, "pct", currency="EUR")
    unknown = await redeem(points_client, tenant, customer_id, fixed, "gbp", currency="GBP")

    assert in_euros["redemption"]["value"] == {"amount": "4.60", "currencyCode": "EUR"}
    assert percentage["userErrors"] == []
    assert percentage["redemption"]["value"] is None  # worth depends on the order
    assert error_codes(unknown) == ["UNSUPPORTED_CURRENCY"]
    assert unknown["userErrors"][0]["field"] == ["input", "currencyCode"]
    assert (await ledger_state(resources, tenant, customer_id)).balance == 800
    rows = await redemptions_of(resources, tenant, customer_id)
    assert [(r.value_amount, r.currency_code) for r in rows] == [
        (Decimal("4.60"), "EUR"),
        (None, "EUR"),
    ]


async def test_50_concurrent_redemptions_spend_exactly_the_balance(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=1000)
    reward_id = await new_reward(resources, tenant, points_cost=100)

    results = await asyncio.gather(
        *(redeem(points_client, tenant, customer_id, reward_id, f"rush-{n}") for n in range(50))
    )

    succeeded = [r for r in results if r["userErrors"] == []]
    refused = [r for r in results if r["userErrors"]]
    assert len(succeeded) == 10
    assert all(r["redemption"]["status"] == "ISSUED" for r in succeeded)
    assert len({r["redemption"]["code"] for r in succeeded}) == 10
    assert len(refused) == 40
    assert all(error_codes(r) == ["INSUFFICIENT_POINTS"] for r in refused)
    assert all(r["userErrors"][0]["field"] == ["input", "rewardId"] for r in refused)
    assert all(r["redemption"] is None for r in refused)
    state = await ledger_state(resources, tenant, customer_id)
    assert state.balance == 0
    assert state.ledger_sum == state.balance
    assert state.consistent
    assert len(await redemptions_of(resources, tenant, customer_id)) == 10


async def test_customer_redemptions_page_without_n_plus_one(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    reward_id = await new_reward(resources, tenant)

    async def customer_with_redemptions(count: int) -> str:
        customer_id = await add_customer(resources, tenant, points=1000)
        for n in range(count):
            payload = await redeem(
                points_client, tenant, customer_id, reward_id, f"{customer_id}-{n}"
            )
            assert payload["userErrors"] == []
        return customer_id

    async def statements(first: int) -> tuple[int, list[dict[str, Any]]]:
        before = count_statements.count
        body = await points_client.execute(CUSTOMER_REDEMPTIONS, {"first": first}, tenant=tenant)
        return count_statements.count - before, body["data"]["customers"]["edges"]

    newest_first = await customer_with_redemptions(3)
    one, edges = await statements(1)
    for _ in range(4):
        await customer_with_redemptions(1)
    five, all_edges = await statements(5)

    assert one == five
    redemptions = edges[0]["node"]["redemptions"]
    assert edges[0]["node"]["id"] == gid("Customer", newest_first)
    assert len(redemptions["edges"]) == 2
    assert redemptions["pageInfo"]["hasNextPage"] is True
    rows = await redemptions_of(resources, tenant, newest_first)
    assert [e["node"]["id"] for e in redemptions["edges"]] == [
        gid("RewardRedemption", rows[2].id),
        gid("RewardRedemption", rows[1].id),
    ]
    node = redemptions["edges"][0]["node"]
    assert node["status"] == "ISSUED"
    assert node["code"].startswith("LN-")
    assert node["reward"] == {"title": "$5 off", "value": {"amount": "5.00"}}
    assert len(all_edges) == 5


# --- Shopify merchant -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("terms", "mutation", "response", "expected"),
    [
        (
            {"value": Decimal("5.00"), "min_order_amount": Decimal("20.00")},
            "discountCodeBasicCreate",
            CREATED_BASIC,
            {
                "customerGets": {
                    "value": {"discountAmount": {"amount": "5.00", "appliesOnEachItem": False}},
                    "items": {"all": True},
                },
                "minimumRequirement": {"subtotal": {"greaterThanOrEqualToSubtotal": "20.00"}},
            },
        ),
        (
            {"kind": RewardKind.PERCENTAGE, "value": Decimal("15")},
            "discountCodeBasicCreate",
            CREATED_BASIC,
            {"customerGets": {"value": {"percentage": 0.15}, "items": {"all": True}}},
        ),
        (
            {"kind": RewardKind.FREE_SHIPPING, "value": None},
            "discountCodeFreeShippingCreate",
            CREATED_FREE_SHIPPING,
            {"destination": {"all": True}},
        ),
        (
            {"kind": RewardKind.FREE_PRODUCT, "value": None, "product_id": "42"},
            "discountCodeBasicCreate",
            CREATED_BASIC,
            {
                "customerGets": {
                    "value": {
                        "discountOnQuantity": {"quantity": "1", "effect": {"percentage": 1.0}}
                    },
                    "items": {"products": {"productsToAdd": ["gid://shopify/Product/42"]}},
                }
            },
        ),
    ],
    ids=["fixed_amount", "percentage", "free_shipping", "free_product"],
)
async def test_shopify_discount_is_created_with_the_rewards_terms(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    shopify: respx.MockRouter,
    terms: dict[str, Any],
    mutation: str,
    response: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    url = await connect_shopify(resources, tenant)
    route = shopify.post(url).mock(return_value=shopify_ok(response, available=1500))
    customer_id = await add_customer(resources, tenant, points=1000)
    await set_customer_facts(resources, tenant, customer_id, shopify_customer_id="777")
    reward_id = await new_reward(resources, tenant, title="Loyalty reward", **terms)

    payload = await redeem(points_client, tenant, customer_id, reward_id, "shopify-1")

    assert payload["userErrors"] == []
    redemption = payload["redemption"]
    assert (redemption["status"], redemption["sandbox"]) == ("ISSUED", False)
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.headers["X-Shopify-Access-Token"] == "shpat_test_token"
    body = sent(route)
    assert f"{mutation}(" in body["query"]
    discount = body["variables"]["input"]
    assert discount["code"] == redemption["code"]
    assert discount["title"] == "Loyalty reward"
    assert discount["usageLimit"] == 1
    assert discount["appliesOncePerCustomer"] is True
    assert discount["context"] == {"customers": {"add": ["gid://shopify/Customer/777"]}}
    assert datetime.fromisoformat(discount["startsAt"]) <= datetime.now(UTC)
    for name, value in expected.items():
        assert discount[name] == value, name
    if "min_order_amount" not in terms:
        assert "minimumRequirement" not in discount
    [row] = await redemptions_of(resources, tenant, customer_id)
    assert row.shopify_discount_id == response[mutation]["codeDiscountNode"]["id"]
    assert payload["customer"]["pointsBalance"] == "900"
    # The budget reading reached the monitor.
    reading = await RateLimitMonitor(resources.redis).latest(tenant.merchant_id)
    assert reading is not None
    assert reading.currently_available == 1500


def throttled(requested: float, available: float, restore: float) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": cost(available, requested, restore),
        },
    )


async def test_throttled_discount_creation_waits_for_the_bucket_then_succeeds(
    resources: Resources, tenant: Tenant, shopify: respx.MockRouter
) -> None:
    url = await connect_shopify(resources, tenant)
    route = shopify.post(url).mock(
        side_effect=[
            # 202 points needed, 2 left, 50 restored per second: 4 seconds to wait.
            throttled(requested=202, available=2, restore=50),
            shopify_ok(CREATED_BASIC, available=0),
        ]
    )
    customer_id = await add_customer(resources, tenant, points=300)
    reward_id = await new_reward(resources, tenant)
    sleeps = Sleeps()
    connector = ShopifyConnector(
        breakers=AsyncCircuitBreakerFactory(default_threshold=5, default_ttl=30),
        redis=resources.redis,
        sleep=sleeps,
    )

    outcome = await redeem_reward(
        resources,
        connector,
        tenant.merchant_id,
        RedeemCommand(customer_id=customer_id, reward_id=reward_id, idempotency_key="busy-shop"),
    )

    assert outcome.error is None
    assert outcome.redemption.status == "issued"
    assert outcome.redemption.shopify_discount_id == "gid://shopify/DiscountCodeNode/501"
    assert route.call_count == 2
    assert sleeps.delays == [4.0]
    assert sent(route, 0) == sent(route, 1)  # the same code, asked again
    reading = await RateLimitMonitor(resources.redis).latest(tenant.merchant_id)
    assert reading is not None
    assert reading.currently_available == 0
    assert (await ledger_state(resources, tenant, customer_id)).balance == 200


async def test_shopify_down_refunds_the_points(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    shopify: respx.MockRouter,
    no_backoff_waits: None,
) -> None:
    url = await connect_shopify(resources, tenant)
    route = shopify.post(url).mock(return_value=httpx.Response(503))
    customer_id = await add_customer(resources, tenant, points=1000)
    reward_id = await new_reward(resources, tenant, per_customer_limit=1)

    payload = await redeem(points_client, tenant, customer_id, reward_id, "while-down")

    assert route.call_count == 3  # retried, then given up
    assert error_codes(payload) == ["DISCOUNT_NOT_CREATED"]
    redemption = payload["redemption"]
    assert redemption["status"] == "REFUNDED"
    assert redemption["code"] is None  # never shown: it must not be usable
    assert payload["customer"]["pointsBalance"] == "1000"
    assert await ledger_of(resources, tenant, customer_id) == [
        ("adjust", 1000),
        ("redeem", -100),
        ("refund", 100),
    ]
    assert (await ledger_state(resources, tenant, customer_id)).consistent
    [row] = await redemptions_of(resources, tenant, customer_id)
    assert row.refund_transaction_id is not None
    assert row.failure

    replay = await redeem(points_client, tenant, customer_id, reward_id, "while-down")
    assert replay["redemption"]["id"] == redemption["id"]
    assert error_codes(replay) == ["DISCOUNT_NOT_CREATED"]
    assert route.call_count == 3

    # Shopify is back; the refunded redemption does not count against the limit of 1.
    route.mock(return_value=shopify_ok(CREATED_BASIC))
    retried = await redeem(points_client, tenant, customer_id, reward_id, "after-recovery")
    assert retried["userErrors"] == []
    assert retried["redemption"]["status"] == "ISSUED"
    over = await redeem(points_client, tenant, customer_id, reward_id, "one-too-many")
    assert error_codes(over) == ["REWARD_LIMIT_REACHED"]
    assert (await ledger_state(resources, tenant, customer_id)).balance == 900


async def test_shopify_refusal_refunds_the_points(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    shopify: respx.MockRouter,
) -> None:
    url = await connect_shopify(resources, tenant)
    refused = {
        "discountCodeBasicCreate": {
            "codeDiscountNode": None,
            "userErrors": [
                {"field": ["basicCodeDiscount"], "code": "INVALID", "message": "Bad product"}
            ],
        }
    }
    route = shopify.post(url).mock(return_value=shopify_ok(refused))
    customer_id = await add_customer(resources, tenant, points=100)
    reward_id = await new_reward(resources, tenant)

    with capture_logs() as logs:
        payload = await redeem(points_client, tenant, customer_id, reward_id, "refused")

    assert route.call_count == 1  # a refusal is not retried
    assert error_codes(payload) == ["DISCOUNT_NOT_CREATED"]
    assert payload["customer"]["pointsBalance"] == "100"
    [row] = await redemptions_of(resources, tenant, customer_id)
    assert row.status == "refunded"
    assert "Bad product" in (row.failure or "")
    # What on-call reads to find the shop, the redemption and Shopify's reason.
    [warning] = [entry for entry in logs if entry["event"] == "redemption_discount_not_created"]
    assert warning["log_level"] == "warning"
    assert (warning["merchant_id"], warning["redemption_id"]) == (tenant.merchant_id, row.id)
    assert "Bad product" in warning["error"]


async def test_points_given_back_after_a_refusal_expire_like_points_credited_that_day(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    shopify: respx.MockRouter,
) -> None:
    """With points expiring 30 days after they are earned, the points a failed redemption
    gives back open a new lot expiring 30 days from the refund. Kills the refund's `now`
    dropped (`settle_refunded(..., now=None)`)."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_program_config(
            WriteContext(session, tenant.merchant_id),
            {"expiry": {"kind": "after_earning", "days": 30}},
        )
    url = await connect_shopify(resources, tenant)
    shopify.post(url).mock(return_value=httpx.Response(400, json={"errors": "Bad Request"}))
    customer_id = await add_customer(resources, tenant, points=100)
    reward_id = await new_reward(resources, tenant)

    before = datetime.now(UTC)
    payload = await redeem(points_client, tenant, customer_id, reward_id, "refused-expiring")
    after = datetime.now(UTC)

    assert error_codes(payload) == ["DISCOUNT_NOT_CREATED"]
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        [expires_at] = await session.scalars(
            select(PointsTransaction.expires_at).where(
                PointsTransaction.merchant_id == tenant.merchant_id,
                PointsTransaction.customer_id == customer_id,
                PointsTransaction.kind == "refund",
            )
        )
    assert expires_at is not None
    assert before + timedelta(days=30) <= expires_at <= after + timedelta(days=30)


# --- the sweeper ----------------------------------------------------------------------------


async def start_pending(
    resources: Resources, tenant: Tenant, customer_id: str, reward_id: str, key: str
) -> RewardRedemption:
    """Step 1 of a redemption only: what a crash right after the debit leaves behind."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        started = await begin_redemption(
            session,
            tenant.merchant_id,
            RedeemCommand(customer_id=customer_id, reward_id=reward_id, idempotency_key=key),
            resources.cipher,
            now=datetime.now(UTC),
        )
    return started.redemption


async def age(resources: Resources, tenant: Tenant, *redemption_ids: str) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await session.execute(
            update(RewardRedemption)
            .where(
                RewardRedemption.merchant_id == tenant.merchant_id,
                RewardRedemption.id.in_(redemption_ids),
            )
            .values(created_at=datetime.now(UTC) - timedelta(hours=1))
        )


async def redemption(resources: Resources, tenant: Tenant, redemption_id: str) -> RewardRedemption:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        row = await session.scalar(
            select(RewardRedemption).where(
                RewardRedemption.merchant_id == tenant.merchant_id,
                RewardRedemption.id == redemption_id,
            )
        )
    assert row is not None
    return row


async def test_sweeper_settles_redemptions_a_crash_left_pending(
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
    shopify: respx.MockRouter,
    no_backoff_waits: None,
) -> None:
    url = await connect_shopify(resources, tenant)
    customer_id = await add_customer(resources, tenant, points=1000)
    reward_id = await new_reward(resources, tenant)
    reached = await start_pending(resources, tenant, customer_id, reward_id, "crash-after-create")
    lost = await start_pending(resources, tenant, customer_id, reward_id, "crash-before-create")
    recent = await start_pending(resources, tenant, customer_id, reward_id, "still-in-flight")
    sandbox_customer = await add_customer(resources, other_tenant, points=100)
    sandbox_reward = await new_reward(resources, other_tenant)
    sandbox = await start_pending(
        resources, other_tenant, sandbox_customer, sandbox_reward, "sandbox-crash"
    )
    await age(resources, tenant, reached.id, lost.id)
    await age(resources, other_tenant, sandbox.id)
    reached_code = resources.cipher.decrypt(reached.code_encrypted, context=REWARD_REDEMPTIONS_CODE)

    def lookup(request: httpx.Request) -> httpx.Response:
        code = json.loads(request.content)["variables"]["code"]
        node = {"id": "gid://shopify/DiscountCodeNode/9"} if code == reached_code else None
        return shopify_ok({"codeDiscountNodeByCode": node})

    route = shopify.post(url).mock(side_effect=lookup)
    connector = ShopifyConnector(
        breakers=AsyncCircuitBreakerFactory(default_threshold=5, default_ttl=30),
        redis=resources.redis,
    )

    report = await resolve_stale_redemptions(resources, connector)

    assert route.call_count == 2
    assert "codeDiscountNodeByCode" in sent(route)["query"]
    found = await redemption(resources, tenant, reached.id)
    assert (found.status, found.shopify_discount_id) == (
        "issued",
        "gid://shopify/DiscountCodeNode/9",
    )
    refunded = await redemption(resources, tenant, lost.id)
    assert refunded.status == "refunded"
    assert refunded.refund_transaction_id is not None
    assert (await redemption(resources, tenant, recent.id)).status == "pending"
    assert (await redemption(resources, other_tenant, sandbox.id)).status == "issued"
    assert report.issued >= 2
    assert report.refunded >= 1
    # 3 debits, 1 refund: the lost redemption's points are back, the others stay spent.
    assert await ledger_of(resources, tenant, customer_id) == [
        ("adjust", 1000),
        ("redeem", -100),
        ("redeem", -100),
        ("redeem", -100),
        ("refund", 100),
    ]
    assert (await ledger_state(resources, tenant, customer_id)).consistent

    # Shopify unreachable: the answer is unknown, so the redemption waits for the next run.
    await age(resources, tenant, recent.id)
    route.mock(return_value=httpx.Response(503))
    again = await resolve_stale_redemptions(resources, connector)
    assert (await redemption(resources, tenant, recent.id)).status == "pending"
    assert again.still_pending >= 1
    # Settled ones are never settled twice.
    assert (await redemption(resources, tenant, lost.id)).status == "refunded"
    assert (await ledger_state(resources, tenant, customer_id)).balance == 800


async def test_a_code_taken_by_our_own_lost_attempt_is_issued_not_refunded(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    shopify: respx.MockRouter,
) -> None:
    # The first create reached Shopify but its answer was lost; the retry finds the code
    # taken. Refunding would leave a live discount whose points came back.
    url = await connect_shopify(resources, tenant)
    taken = {
        "discountCodeBasicCreate": {
            "codeDiscountNode": None,
            "userErrors": [{"field": ["code"], "code": "TAKEN", "message": "Code taken"}],
        }
    }
    route = shopify.post(url).mock(
        side_effect=[
            shopify_ok(taken),
            shopify_ok({"codeDiscountNodeByCode": {"id": "gid://shopify/DiscountCodeNode/77"}}),
        ]
    )
    customer_id = await add_customer(resources, tenant, points=100)
    reward_id = await new_reward(resources, tenant)

    payload = await redeem(points_client, tenant, customer_id, reward_id, "lost-answer")

    assert payload["userErrors"] == []
    assert payload["redemption"]["status"] == "ISSUED"
    assert sent(route, 1)["variables"] == {"code": payload["redemption"]["code"]}
    [row] = await redemptions_of(resources, tenant, customer_id)
    assert row.shopify_discount_id == "gid://shopify/DiscountCodeNode/77"
    assert payload["customer"]["pointsBalance"] == "0"
