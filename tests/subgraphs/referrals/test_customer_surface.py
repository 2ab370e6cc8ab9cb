"""What a shopper sees of the referral program (customer token): how many more completed
referrals reach the next tier, and the incentive text in their language (English when the
program has none in it), flagged right to left for Arabic and Hebrew; never another
customer's."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.referrals.conversions import service as conversions
from subgraphs.referrals.conversions.service import QualifyingOrder
from subgraphs.referrals.program.service import update_referral_program
from tests.conftest import SubgraphClient, Tenant, add_customer
from tests.ids import gid
from tests.subgraphs.referrals.test_referral_api import advocate_code, claimed, data, shopper

SURFACE = """query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Customer {
  referralProgress { completedReferrals nextTierFromCount nextTierPoints referralsToNextTier }
  fr: referralIncentive(locale: "fr-CA") { locale text rightToLeft }
  he: referralIncentive(locale: "iw") { locale text rightToLeft }
  es: referralIncentive(locale: "es") { locale text rightToLeft } } } }"""
TEXTS = {"en": "Give $10, get $10", "fr": "Offrez 10 $", "he": "תנו 10$"}


async def complete_referrals(resources: Resources, tenant: Tenant, code: str, count: int) -> None:
    now = datetime.now(UTC)
    friends = [await add_customer(resources, tenant) for _ in range(count)]
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        for friend in friends:
            await claimed(session, tenant.merchant_id, code, friend, now)
            await conversions.complete(
                session,
                tenant.merchant_id,
                friend,
                QualifyingOrder(friend, Decimal(80), now),
                now=now,
            )


async def surface(
    client: SubgraphClient, resources: Resources, tenant: Tenant, customer: str, viewer: str
) -> Any:
    reps = {"reps": [{"__typename": "Customer", "id": gid("Customer", customer)}]}
    return await client.execute(SURFACE, reps, headers=shopper(resources, tenant, viewer))


async def test_a_shopper_sees_the_way_to_the_next_tier_and_the_text_in_their_language(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_referral_program(
            WriteContext(session, tenant.merchant_id),
            {
                "texts": TEXTS,
                "tiers": [{"from_count": 5, "points": 1000}, {"from_count": 2, "points": 600}],
            },
        )
    advocate, code = await advocate_code(resources, tenant)
    await complete_referrals(resources, tenant, code, 1)
    reps = {"reps": [{"__typename": "Customer", "id": gid("Customer", advocate)}]}
    (after_one,) = (
        await data(referrals_client, SURFACE, reps, headers=shopper(resources, tenant, advocate))
    )["_entities"]
    await complete_referrals(resources, tenant, code, 1)
    after_two = (await surface(referrals_client, resources, tenant, advocate, advocate))["data"][
        "_entities"
    ][0]
    stranger = await add_customer(resources, tenant)
    forbidden = await surface(referrals_client, resources, tenant, advocate, stranger)

    assert after_one["referralProgress"] == {
        "completedReferrals": "1",
        "nextTierFromCount": 2,
        "nextTierPoints": 600,
        "referralsToNextTier": 1,
    }
    assert after_two["referralProgress"] == {
        "completedReferrals": "2",
        "nextTierFromCount": 5,
        "nextTierPoints": 1000,
        "referralsToNextTier": 3,
    }
    assert after_one["fr"] == {"locale": "fr", "text": "Offrez 10 $", "rightToLeft": False}
    assert after_one["he"] == {"locale": "he", "text": "תנו 10$", "rightToLeft": True}
    assert after_one["es"] == {"locale": "en", "text": "Give $10, get $10", "rightToLeft": False}
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_past_the_last_tier_there_is_no_next_one(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_referral_program(
            WriteContext(session, tenant.merchant_id), {"tiers": [{"from_count": 1, "points": 700}]}
        )
    advocate, code = await advocate_code(resources, tenant)
    await complete_referrals(resources, tenant, code, 1)

    (mine,) = (await surface(referrals_client, resources, tenant, advocate, advocate))["data"][
        "_entities"
    ]

    assert mine["referralProgress"] == {
        "completedReferrals": "1",
        "nextTierFromCount": None,
        "nextTierPoints": None,
        "referralsToNextTier": None,
    }
    assert mine["he"]["locale"] == "en"  # the default program speaks English only
