"""The referral program through the referrals subgraph's GraphQL: settings read and saved with
their version and coded userErrors; a shopper claiming a friend's code from the storefront;
staff listing referrals with their fraud signals and rewards, and reviewing a held one."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.session import tenant_unit_of_work
from gateway.edge.auth.tokens import mint_customer_token
from subgraphs.kit.resources import Resources
from subgraphs.referrals.conversions import service as conversions
from subgraphs.referrals.conversions.fraud import PartyFacts
from subgraphs.referrals.conversions.service import AttributionSource, QualifyingOrder
from subgraphs.referrals.service import create_referral_link
from tests.conftest import SubgraphClient, Tenant, add_customer
from tests.ids import gid

PROGRAM = """{ referralProgram { version enabled holdHours minOrderAmount fraudThreshold
  advocateReward { kind points } friendReward { kind points } tiers { fromCount points }
  texts { locale text rightToLeft } he: text(locale: "he") } }"""
UPDATE = """mutation($input: ReferralProgramUpdateInput!) { referralProgramUpdate(input: $input) {
  referralProgram { version holdHours tiers { fromCount points } texts { locale rightToLeft } }
  userErrors { field code message } } }"""
CLAIM = """mutation($code: String!) { referralClaim(input: {code: $code}) {
  referral { id status source advocate { id } friend { id } } userErrors { field code } } }"""
REFERRALS = """query($status: ReferralStatus) { referrals(first: 10, status: $status) {
  nodes { id status fraudScore fraudSignals { reason weight detail }
          rewards { side kind points status } }
  pageInfo { hasNextPage } } }"""
REVIEW = """mutation($id: ID!) { referralReview(input: {id: $id, decision: APPROVE}) {
  rewards { side status } userErrors { code } } }"""


def shopper(resources: Resources, tenant: Tenant, customer_id: str) -> dict[str, str]:
    token = mint_customer_token(
        shop_domain=tenant.shop_domain,
        customer_id=customer_id,
        secret=resources.settings.token_secret,
    )
    return {"authorization": f"Bearer {token}"}


async def data(client: SubgraphClient, query: str, variables: Any = None, **kw: Any) -> Any:
    body = await client.execute(query, variables, **kw)
    assert "errors" not in body, body
    return body["data"]


async def claimed(
    session: AsyncSession, merchant_id: str, code: str, friend: str, now: datetime
) -> conversions.Attribution:
    """The friend claims the code (no device facts: only the advocate's pace is scored)."""
    return await conversions.attribute(
        session,
        merchant_id,
        code,
        friend_customer_id=friend,
        friend=PartyFacts(),
        advocate=PartyFacts(),
        source=AttributionSource.CLAIM,
        now=now,
    )


async def advocate_code(resources: Resources, tenant: Tenant) -> tuple[str, str]:
    advocate = await add_customer(resources, tenant, email="ada.lovelace@example.com")
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        link = await create_referral_link(session, tenant.merchant_id, advocate)
    return advocate, link.link.code


async def test_the_program_is_read_and_saved_with_its_version(
    referrals_client: SubgraphClient, tenant: Tenant
) -> None:
    defaults = (await data(referrals_client, PROGRAM, tenant=tenant))["referralProgram"]
    changes = {
        "expectedVersion": 0,
        "holdHours": 48,
        "tiers": [{"fromCount": 5, "points": 1000}],
        "texts": [{"locale": "en", "text": "Give 10%"}, {"locale": "he", "text": "תן"}],
    }
    saved = (await data(referrals_client, UPDATE, {"input": changes}, tenant=tenant))[
        "referralProgramUpdate"
    ]
    stale = (await data(referrals_client, UPDATE, {"input": changes}, tenant=tenant))[
        "referralProgramUpdate"
    ]
    invalid = (
        await data(
            referrals_client,
            UPDATE,
            {"input": {"texts": [{"locale": "fr", "text": "Donnez"}]}},
            tenant=tenant,
        )
    )["referralProgramUpdate"]
    after = (await data(referrals_client, PROGRAM, tenant=tenant))["referralProgram"]

    assert (defaults["version"], defaults["holdHours"], defaults["advocateReward"]) == (
        0,
        336,
        {"kind": "POINTS", "points": 500},
    )
    assert saved["userErrors"] == []
    assert saved["referralProgram"]["version"] == 1
    assert saved["referralProgram"]["texts"] == [
        {"locale": "en", "rightToLeft": False},
        {"locale": "he", "rightToLeft": True},
    ]
    assert [e["code"] for e in stale["userErrors"]] == ["VERSION_CONFLICT"]
    assert [e["code"] for e in invalid["userErrors"]] == ["INVALID_PROGRAM"]
    assert (after["version"], after["he"], after["tiers"]) == (
        1,
        "תן",
        [{"fromCount": 5, "points": 1000}],
    )


async def test_a_shopper_claims_a_friends_code_once(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    advocate, code = await advocate_code(resources, tenant)
    friend = await add_customer(resources, tenant)
    headers = shopper(resources, tenant, friend)

    claimed = (await data(referrals_client, CLAIM, {"code": code.lower()}, headers=headers))[
        "referralClaim"
    ]
    again = (await data(referrals_client, CLAIM, {"code": code}, headers=headers))["referralClaim"]
    own = (
        await data(
            referrals_client,
            CLAIM,
            {"code": code},
            headers=shopper(resources, tenant, advocate),
        )
    )["referralClaim"]
    unknown = (await data(referrals_client, CLAIM, {"code": "NOSUCH99"}, headers=headers))[
        "referralClaim"
    ]
    staff = (await data(referrals_client, CLAIM, {"code": code}, tenant=tenant))["referralClaim"]

    referral = claimed["referral"]
    assert (referral["status"], referral["source"]) == ("PENDING", "CLAIM")
    assert (referral["advocate"]["id"], referral["friend"]["id"]) == (
        gid("Customer", advocate),
        gid("Customer", friend),
    )
    assert again["referral"]["id"] == referral["id"]
    assert [e["code"] for e in own["userErrors"]] == ["SELF_REFERRAL"]
    assert [e["code"] for e in unknown["userErrors"]] == ["CODE_NOT_FOUND"]
    assert [e["code"] for e in staff["userErrors"]] == ["NOT_A_SHOPPER"]


async def test_staff_list_referrals_with_their_signals_and_review_a_held_one(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    _, code = await advocate_code(resources, tenant)
    friend = await add_customer(resources, tenant, email="ada.lovelace+2@example.com")
    now = datetime.now(UTC)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await conversions.attribute(
            session,
            tenant.merchant_id,
            code,
            friend_customer_id=friend,
            friend=PartyFacts(email="ada.lovelace+2@example.com"),
            advocate=PartyFacts(email="ada.lovelace@example.com"),
            source=AttributionSource.ORDER,
            now=now,
        )
        await conversions.complete(
            session, tenant.merchant_id, friend, QualifyingOrder("o1", Decimal(80), now), now=now
        )

    listed = (await data(referrals_client, REFERRALS, tenant=tenant))["referrals"]["nodes"]
    (held,) = listed
    review = (await data(referrals_client, REVIEW, {"id": held["id"]}, tenant=tenant))[
        "referralReview"
    ]
    customers_view = await referrals_client.execute(
        REFERRALS, headers=shopper(resources, tenant, friend)
    )

    assert held["status"] == "COMPLETED"
    assert Decimal(held["fraudScore"]) >= Decimal("0.7")
    assert [signal["reason"] for signal in held["fraudSignals"]] == ["SAME_MAILBOX"]
    assert {(r["side"], r["status"]) for r in held["rewards"]} == {
        ("advocate", "HELD"),
        ("friend", "HELD"),
    }
    assert {(r["side"], r["status"]) for r in review["rewards"]} == {
        ("advocate", "PENDING"),
        ("friend", "PENDING"),
    }
    assert customers_view["errors"][0]["extensions"]["code"] == "FORBIDDEN"


MINE = """query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Customer {
  referrals(first: 10) { nodes { status friend { id } } pageInfo { hasNextPage } }
  referralProgress { completedReferrals nextTierFromCount nextTierPoints } } } }"""


async def test_an_advocate_sees_their_referrals_and_progress_to_the_next_tier(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await data(
        referrals_client,
        UPDATE,
        {"input": {"tiers": [{"fromCount": 3, "points": 900}]}},
        tenant=tenant,
    )
    advocate, code = await advocate_code(resources, tenant)
    friends = [await add_customer(resources, tenant) for _ in range(3)]
    now = datetime.now(UTC)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        for friend in friends:
            await claimed(session, tenant.merchant_id, code, friend, now)
        for friend in friends[:2]:
            await conversions.complete(
                session,
                tenant.merchant_id,
                friend,
                QualifyingOrder(friend, Decimal(80), now),
                now=now,
            )
    reps = {"reps": [{"__typename": "Customer", "id": gid("Customer", advocate)}]}

    (mine,) = (
        await data(referrals_client, MINE, reps, headers=shopper(resources, tenant, advocate))
    )["_entities"]
    someone_else = await referrals_client.execute(
        MINE, reps, headers=shopper(resources, tenant, friends[0])
    )

    assert [node["status"] for node in mine["referrals"]["nodes"]] == [
        "PENDING",
        "COMPLETED",
        "COMPLETED",
    ]
    assert mine["referralProgress"] == {
        "completedReferrals": "2",
        "nextTierFromCount": 3,
        "nextTierPoints": 900,
    }
    assert someone_else["errors"][0]["extensions"]["code"] == "FORBIDDEN"
