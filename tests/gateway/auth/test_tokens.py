"""Long because it is one matrix (token kinds x checks) that must be read whole to see a gap.

Every kind of caller, through the real subgraph apps: who gets in (UNAUTHENTICATED for any
token that is forged, stale, for someone else or for another shop) and what they may do there
(FORBIDDEN beyond their kind's rights: customers only themselves, staff by role and only with
MFA, API clients by the scopes of their key)."""

from __future__ import annotations

import base64
import importlib
import json
import time
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from starlette.requests import Request

from db.ids import new_id
from db.models import MerchantApiKey, RewardKind
from db.session import tenant_unit_of_work
from gateway.edge.auth.tokens import mint_customer_token, mint_staff_token
from subgraphs.kit.api_keys import create_api_key, revoke_api_key
from subgraphs.kit.auth import CUSTOMER_AUDIENCE, LOYALNEST_ISSUER, hs256_jwt
from subgraphs.kit.graphql.context import Context
from subgraphs.kit.permissions import Capability
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.rewards.service import RewardTerms, create_reward
from tests.conftest import SubgraphClient, Tenant, add_customer, token_for
from tests.ids import gid

CUSTOMER = "query($id: ID!) { customer(id: $id) { id pointsBalance } }"
CUSTOMERS = "{ customers(first: 5) { edges { node { id } } } }"
MERCHANT = "{ merchant { id shopDomain } }"
CATALOG = "{ rewards(first: 5) { edges { node { id title } } } vipTiers { id } }"
ADJUST = """
mutation($input: PointsAdjustInput!) {
  pointsAdjust(input: $input) { customer { id pointsBalance } userErrors { code } }
}
"""
REDEEM = """
mutation($input: RewardRedeemInput!) {
  rewardRedeem(input: $input) {
    redemption { status pointsSpent sandbox }
    customer { id pointsBalance }
    userErrors { code }
  }
}
"""
SETTINGS_UPDATE = """
mutation($input: ProgramSettingsUpdateInput!) {
  programSettingsUpdate(input: $input) { programSettings { version } userErrors { code } }
}
"""
REFERRAL_CREATE = """
mutation($input: ReferralLinkCreateInput!) {
  referralLinkCreate(input: $input) { referralLink { code } userErrors { code } }
}
"""
REFERRAL_BY_CODE = "query($code: String!) { referralLink(code: $code) { code clicks } }"


# --- credentials ----------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def customer_token(
    resources: Resources, shop: str, customer_id: str, **overrides: Any
) -> dict[str, str]:
    return bearer(
        mint_customer_token(
            shop_domain=shop,
            customer_id=customer_id,
            secret=resources.settings.token_secret,
            **overrides,
        )
    )


def staff_token(
    resources: Resources, tenant: Tenant, *roles: str, mfa: bool = True, **overrides: Any
) -> dict[str, str]:
    return bearer(
        mint_staff_token(
            shop_domain=tenant.shop_domain,
            staff_id="ops-7",
            roles=roles,
            mfa=mfa,
            secret=resources.settings.staff_token_secret,
            **overrides,
        )
    )


def customer_claims(shop: str, customer_id: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": LOYALNEST_ISSUER,
        "aud": CUSTOMER_AUDIENCE,
        "sub": customer_id,
        "dest": f"https://{shop}",
        "exp": now + 600,
        "nbf": now,
        "iat": now,
    }
    claims.update(overrides)
    return claims


def signed(claims: dict[str, Any], secret: str) -> str:
    token: bytes = hs256_jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, secret)
    return token.decode()


def segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any]) -> str:
    """``alg: none``, crafted by hand: header, claims and an empty signature."""
    return f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims)}."


def codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors", [])]


def assert_unauthenticated(result: dict[str, Any], reason: str | None = None) -> None:
    assert codes(result) == ["UNAUTHENTICATED"], result
    if reason is not None:
        assert reason in result["errors"][0]["message"]


def assert_forbidden(result: dict[str, Any]) -> None:
    assert codes(result) == ["FORBIDDEN"], result


async def new_reward(resources: Resources, tenant: Tenant) -> str:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        reward = await create_reward(
            WriteContext(session, tenant.merchant_id),
            RewardTerms(
                kind=RewardKind.FIXED_AMOUNT, title="$5 off", points_cost=100, value=Decimal(5)
            ),
            idempotency_key=f"test:reward:{new_id()}",
        )
    return reward.id


async def new_api_key(resources: Resources, tenant: Tenant, *scopes: Capability) -> tuple[str, str]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        created = await create_api_key(session, tenant.merchant_id, label="Zapier", scopes=scopes)
    return created.id, created.key


# --- who gets in ----------------------------------------------------------------------------


async def test_an_expired_customer_token_is_unauthenticated(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    an_hour_ago = int(time.time()) - 3600
    headers = customer_token(resources, tenant.shop_domain, customer_id, now=an_hour_ago)

    result = await points_client.execute(
        CUSTOMER, {"id": gid("Customer", customer_id)}, headers=headers
    )

    assert_unauthenticated(result, "expired")
    assert result["data"] == {"customer": None}


async def test_an_expired_staff_token_is_unauthenticated(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    headers = staff_token(resources, tenant, "admin:full", now=int(time.time()) - 7200)

    assert_unauthenticated(await admin_client.execute(MERCHANT, headers=headers), "expired")


async def test_a_customer_token_not_valid_yet_is_unauthenticated(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    later = int(time.time()) + 120
    token = signed(
        customer_claims(tenant.shop_domain, customer_id, nbf=later, iat=later),
        resources.settings.token_secret,
    )

    result = await points_client.execute(
        CUSTOMER, {"id": gid("Customer", customer_id)}, headers=bearer(token)
    )

    assert_unauthenticated(result, "not valid yet")


@pytest.mark.parametrize(
    "audience", ["someone-elses-api-key", "loyalnest:admin", "", None], ids=str
)
async def test_a_token_for_an_audience_we_do_not_serve_is_unauthenticated(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, audience: str | None
) -> None:
    customer_id = await add_customer(resources, tenant)
    claims = customer_claims(tenant.shop_domain, customer_id, aud=audience)
    token = signed(claims, resources.settings.token_secret)

    result = await points_client.execute(
        CUSTOMER, {"id": gid("Customer", customer_id)}, headers=bearer(token)
    )

    assert_unauthenticated(result, "audience")


async def test_a_customer_token_signed_with_another_secret_is_unauthenticated(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    claims = customer_claims(tenant.shop_domain, customer_id)
    # The staff secret and the app secret are ours too, but not the key of customer tokens.
    for secret in ("guess", resources.settings.staff_token_secret, "test-app-secret"):
        token = signed(claims, secret)

        result = await points_client.execute(
            CUSTOMER, {"id": gid("Customer", customer_id)}, headers=bearer(token)
        )

        assert_unauthenticated(result, "bad_signature")


async def test_a_staff_shaped_token_signed_with_the_customer_secret_is_unauthenticated(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    token = mint_staff_token(
        shop_domain=tenant.shop_domain,
        staff_id="intruder",
        roles=["admin:full"],
        secret=resources.settings.token_secret,
    )

    assert_unauthenticated(await admin_client.execute(MERCHANT, headers=bearer(token)))


@pytest.mark.parametrize("kind", ["customer", "staff", "session"])
async def test_an_unsigned_alg_none_token_is_unauthenticated(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    kind: str,
) -> None:
    customer_id = await add_customer(resources, tenant)
    now = int(time.time())
    claims = {
        "customer": customer_claims(tenant.shop_domain, customer_id),
        "staff": {
            "aud": "loyalnest:staff",
            "sub": "ops-7",
            "dest": f"https://{tenant.shop_domain}",
            "roles": ["admin:full"],
            "amr": ["pwd", "mfa"],
            "exp": now + 600,
            "nbf": now,
        },
        "session": {
            "iss": f"https://{tenant.shop_domain}/admin",
            "dest": f"https://{tenant.shop_domain}",
            "aud": resources.settings.shopify_api_key,
            "sub": "1",
            "exp": now + 600,
            "nbf": now,
        },
    }[kind]

    result = await points_client.execute(
        CUSTOMER, {"id": gid("Customer", customer_id)}, headers=bearer(unsigned(claims))
    )

    assert_unauthenticated(result)
    assert result["data"] == {"customer": None}


async def test_a_session_token_for_a_shop_that_is_not_installed_is_unauthenticated(
    points_client: SubgraphClient,
) -> None:
    headers = bearer(token_for("not-installed-here.myshopify.com"))

    assert_unauthenticated(await points_client.execute(CUSTOMERS, headers=headers), "installed")


async def test_a_customer_token_naming_another_merchants_customer_is_unauthenticated(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await add_customer(resources, other_tenant)
    # Validly signed, for our shop, but the customer is the other merchant's.
    headers = customer_token(resources, tenant.shop_domain, theirs)

    result = await points_client.execute(CUSTOMER, {"id": gid("Customer", theirs)}, headers=headers)

    assert_unauthenticated(result, "no such customer")


async def test_a_customer_token_for_another_shop_gives_nothing_of_ours(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    ours = await add_customer(resources, tenant)
    headers = customer_token(resources, other_tenant.shop_domain, ours)

    result = await points_client.execute(CUSTOMER, {"id": gid("Customer", ours)}, headers=headers)

    assert_unauthenticated(result)


@pytest.mark.parametrize(
    "token",
    ["lnk_", "lnk_abc", "lnk_not a merchant_" + "x" * 43, "a.b", "a.b.c", "x" * 40],
)
async def test_malformed_credentials_are_unauthenticated(
    points_client: SubgraphClient, token: str
) -> None:
    assert_unauthenticated(await points_client.execute(CUSTOMERS, headers=bearer(token)))


# --- customers: themselves, and the storefront catalog -------------------------------------


async def test_a_customer_reads_themselves_but_not_another_customer(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    me = await add_customer(resources, tenant, points=40)
    neighbour = await add_customer(resources, tenant, points=900)
    headers = customer_token(resources, tenant.shop_domain, me)

    mine = await points_client.execute(CUSTOMER, {"id": gid("Customer", me)}, headers=headers)
    theirs = await points_client.execute(
        CUSTOMER, {"id": gid("Customer", neighbour)}, headers=headers
    )

    assert mine == {"data": {"customer": {"id": gid("Customer", me), "pointsBalance": "40"}}}
    assert_forbidden(theirs)
    assert theirs["data"] == {"customer": None}
    assert "900" not in json.dumps(theirs)


async def test_a_customer_cannot_list_customers_or_adjust_points(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    me = await add_customer(resources, tenant, points=10)
    headers = customer_token(resources, tenant.shop_domain, me)
    adjust = {
        "customerId": gid("Customer", me),
        "points": 1000,
        "reason": "self-service",
        "idempotencyKey": "k1",
    }

    listed = await points_client.execute(CUSTOMERS, headers=headers)
    adjusted = await points_client.execute(ADJUST, {"input": adjust}, headers=headers)

    assert_forbidden(listed)
    assert_forbidden(adjusted)
    again = await points_client.execute(CUSTOMER, {"id": gid("Customer", me)}, headers=headers)
    assert again["data"]["customer"]["pointsBalance"] == "10"


async def test_a_customer_reads_the_catalog_but_not_the_program(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    reward_id = await new_reward(resources, tenant)
    headers = customer_token(resources, tenant.shop_domain, await add_customer(resources, tenant))

    catalog = await points_client.execute(CATALOG, headers=headers)
    everything = await points_client.execute(
        "{ rewards(includeInactive: true) { edges { node { id } } } }", headers=headers
    )
    program = await points_client.execute("{ programSettings { version } }", headers=headers)

    assert "errors" not in catalog
    assert [e["node"]["id"] for e in catalog["data"]["rewards"]["edges"]] == [
        gid("Reward", reward_id)
    ]
    assert_forbidden(everything)
    assert_forbidden(program)


async def test_a_customer_redeems_for_themselves_only(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    reward_id = await new_reward(resources, tenant)
    me = await add_customer(resources, tenant, points=250)
    neighbour = await add_customer(resources, tenant, points=250)
    headers = customer_token(resources, tenant.shop_domain, me)

    def redeem(customer_id: str, key: str) -> dict[str, Any]:
        return {
            "customerId": gid("Customer", customer_id),
            "rewardId": gid("Reward", reward_id),
            "idempotencyKey": key,
        }

    mine = await points_client.execute(REDEEM, {"input": redeem(me, "r1")}, headers=headers)
    theirs = await points_client.execute(
        REDEEM, {"input": redeem(neighbour, "r2")}, headers=headers
    )

    assert mine["data"]["rewardRedeem"]["customer"] == {
        "id": gid("Customer", me),
        "pointsBalance": "150",
    }
    assert mine["data"]["rewardRedeem"]["redemption"]["pointsSpent"] == 100
    assert_forbidden(theirs)
    untouched = await points_client.execute(
        CUSTOMER, {"id": gid("Customer", neighbour)}, tenant=tenant
    )
    assert untouched["data"]["customer"]["pointsBalance"] == "250"


async def test_a_customer_gets_their_own_referral_link_only(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    me = await add_customer(resources, tenant)
    neighbour = await add_customer(resources, tenant)
    headers = customer_token(resources, tenant.shop_domain, me)
    theirs = await referrals_client.execute(
        REFERRAL_CREATE, {"input": {"customerId": gid("Customer", neighbour)}}, tenant=tenant
    )
    their_code = theirs["data"]["referralLinkCreate"]["referralLink"]["code"]

    mine = await referrals_client.execute(
        REFERRAL_CREATE, {"input": {"customerId": gid("Customer", me)}}, headers=headers
    )
    for_them = await referrals_client.execute(
        REFERRAL_CREATE, {"input": {"customerId": gid("Customer", neighbour)}}, headers=headers
    )
    my_code = mine["data"]["referralLinkCreate"]["referralLink"]["code"]
    read_mine = await referrals_client.execute(REFERRAL_BY_CODE, {"code": my_code}, headers=headers)
    read_theirs = await referrals_client.execute(
        REFERRAL_BY_CODE, {"code": their_code}, headers=headers
    )
    read_unknown = await referrals_client.execute(
        REFERRAL_BY_CODE, {"code": "NO-SUCH-CODE"}, headers=headers
    )

    assert read_mine == {"data": {"referralLink": {"code": my_code, "clicks": "0"}}}
    assert_forbidden(for_them)
    # Another's code and a code that does not exist are refused alike: nothing to probe.
    assert_forbidden(read_theirs)
    assert_forbidden(read_unknown)


async def test_a_customer_cannot_read_the_merchant(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    headers = customer_token(resources, tenant.shop_domain, await add_customer(resources, tenant))

    assert_forbidden(await admin_client.execute(MERCHANT, headers=headers))


# --- live: a subscription is checked like a query --------------------------------------------


POINTS_LIVE = (
    "subscription($id: ID!) { customerPointsUpdated(customerId: $id) { id pointsBalance } }"
)
METRICS_LIVE = "subscription { loyaltyMetricsUpdated { membersCount } }"


async def first_event(
    resources: Resources, token: str, subgraph: str, query: str, **variables: Any
) -> Any:
    """The first thing a subscription yields, with the context a WebSocket would get."""
    schema = importlib.import_module(f"subgraphs.{subgraph}.schema").schema
    loaders = importlib.import_module(f"subgraphs.{subgraph}.loaders")
    request = Request({"type": "http", "method": "POST", "path": "/graphql", "headers": []})
    context: Context[Any] = Context(
        resources=resources,
        request=request,
        response=None,
        loaders_factory=getattr(loaders, f"build_{subgraph}_loaders"),
    )
    await context.authenticate(f"Bearer {token}")
    events = await schema.subscribe(query, variable_values=variables, context_value=context)
    if not hasattr(events, "__aiter__"):
        return events  # refused before the stream started
    async for event in events:
        await events.aclose()
        return event
    return None


async def test_a_customer_follows_their_own_points_live_only(
    resources: Resources, tenant: Tenant
) -> None:
    me = await add_customer(resources, tenant, points=7)
    neighbour = await add_customer(resources, tenant, points=8)
    token = mint_customer_token(
        shop_domain=tenant.shop_domain, customer_id=me, secret=resources.settings.token_secret
    )

    mine = await first_event(resources, token, "points", POINTS_LIVE, id=gid("Customer", me))
    theirs = await first_event(
        resources, token, "points", POINTS_LIVE, id=gid("Customer", neighbour)
    )
    metrics = await first_event(resources, token, "analytics", METRICS_LIVE)

    assert mine.errors is None
    assert mine.data == {"customerPointsUpdated": {"id": gid("Customer", me), "pointsBalance": "7"}}
    assert [error.extensions["code"] for error in theirs.errors] == ["FORBIDDEN"]
    assert [error.extensions["code"] for error in metrics.errors] == ["FORBIDDEN"]


async def test_analytics_staff_follow_the_metrics_live(
    resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant)
    analyst = mint_staff_token(
        shop_domain=tenant.shop_domain,
        staff_id="ops-7",
        roles=["admin:analytics"],
        secret=resources.settings.staff_token_secret,
    )

    event = await first_event(resources, analyst, "analytics", METRICS_LIVE)

    assert event.errors is None
    assert event.data == {"loyaltyMetricsUpdated": {"membersCount": "1"}}


# --- staff: roles, and MFA ------------------------------------------------------------------


async def test_staff_without_mfa_are_forbidden_everything(
    points_client: SubgraphClient,
    admin_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
) -> None:
    headers = staff_token(resources, tenant, "admin:full", mfa=False)

    listed = await points_client.execute(CUSTOMERS, headers=headers)
    merchant = await admin_client.execute(MERCHANT, headers=headers)

    assert_forbidden(listed)
    assert_forbidden(merchant)
    assert "multi-factor" in listed["errors"][0]["message"]


async def test_analytics_staff_read_customers_but_cannot_change_the_program(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    analyst = staff_token(resources, tenant, "admin:analytics")
    full = staff_token(resources, tenant, "admin:full")
    change = {"input": {"pointsName": "Stars"}}

    listed = await points_client.execute(CUSTOMERS, headers=analyst)
    refused = await points_client.execute(SETTINGS_UPDATE, change, headers=analyst)
    accepted = await points_client.execute(SETTINGS_UPDATE, change, headers=full)

    assert [edge["node"]["id"] for edge in listed["data"]["customers"]["edges"]] == [
        gid("Customer", customer_id)
    ]
    assert_forbidden(refused)
    assert accepted["data"]["programSettingsUpdate"]["userErrors"] == []


async def test_full_staff_act_on_the_shop_in_their_token(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    result = await admin_client.execute(
        MERCHANT, headers=staff_token(resources, tenant, "admin:full")
    )

    assert result == {
        "data": {
            "merchant": {
                "id": gid("Merchant", tenant.merchant_id),
                "shopDomain": tenant.shop_domain,
            }
        }
    }


async def test_staff_with_unknown_roles_get_nothing(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    headers = staff_token(resources, tenant, "admin:superuser", "root")

    assert_forbidden(await points_client.execute(CUSTOMERS, headers=headers))


# --- API keys: scopes, revocation -----------------------------------------------------------


async def test_an_api_key_may_do_what_its_scopes_allow(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    key_id, key = await new_api_key(resources, tenant, Capability.READ_CUSTOMERS)
    adjust = {
        "customerId": gid("Customer", customer_id),
        "points": 5,
        "reason": "zap",
        "idempotencyKey": "z1",
    }

    listed = await points_client.execute(CUSTOMERS, headers=bearer(key))
    adjusted = await points_client.execute(ADJUST, {"input": adjust}, headers=bearer(key))

    assert [edge["node"]["id"] for edge in listed["data"]["customers"]["edges"]] == [
        gid("Customer", customer_id)
    ]
    assert_forbidden(adjusted)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        row = (
            await session.scalars(select(MerchantApiKey).where(MerchantApiKey.id == key_id))
        ).one()
    assert row.last_used_at is not None
    assert key not in (row.key_hash, row.display_prefix)
    assert key.startswith(f"lnk_{tenant.merchant_id}_{row.display_prefix}")


async def test_a_revoked_api_key_is_unauthenticated(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    key_id, key = await new_api_key(resources, tenant, Capability.READ_CUSTOMERS)
    assert "errors" not in await points_client.execute(CUSTOMERS, headers=bearer(key))

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        assert await revoke_api_key(session, tenant.merchant_id, key_id) is not None

    result = await points_client.execute(CUSTOMERS, headers=bearer(key))
    assert_unauthenticated(result, "revoked")


async def test_an_api_key_moved_to_another_merchant_is_unauthenticated(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    _, key = await new_api_key(resources, tenant, Capability.READ_CUSTOMERS)
    moved = key.replace(tenant.merchant_id, other_tenant.merchant_id)

    assert_unauthenticated(await points_client.execute(CUSTOMERS, headers=bearer(moved)))


async def test_an_api_key_needs_a_scope_and_a_label(resources: Resources, tenant: Tenant) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        with pytest.raises(ValueError, match="scope"):
            await create_api_key(session, tenant.merchant_id, label="x", scopes=[])
        with pytest.raises(ValueError, match="label"):
            await create_api_key(
                session, tenant.merchant_id, label=" ", scopes=[Capability.READ_PROGRAM]
            )
