"""referralShare through the referrals subgraph's GraphQL: a shopper's share is recorded with
the program's text in their language and the link, encrypted recipient, queued for the
worker; repeated under one idempotency key it is one share; past the daily limit, and for a bad
address, a disabled channel or a staff token, a coded userError and nothing recorded."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from db.encryption_contexts import REFERRAL_SHARES_RECIPIENT
from db.models import ReferralShare
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.referrals.program.service import update_referral_program
from tests.conftest import SubgraphClient, Tenant, add_customer
from tests.subgraphs.referrals.test_referral_api import data, shopper

SHARE = """mutation($input: ReferralShareInput!) { referralShare(input: $input) {
  share { id channel locale rightToLeft status } referralLink { code url }
  userErrors { field code } } }"""


async def shares_of(resources: Resources, tenant: Tenant) -> list[ReferralShare]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return list(await session.scalars(select(ReferralShare).order_by(ReferralShare.id)))


async def share(client: SubgraphClient, headers: dict[str, str], **input: Any) -> dict[str, Any]:
    result: dict[str, Any] = (await data(client, SHARE, {"input": input}, headers=headers))[
        "referralShare"
    ]
    return result


async def test_a_share_is_recorded_in_the_shoppers_language_and_queued(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_referral_program(
            WriteContext(session, tenant.merchant_id),
            {"texts": {"en": "Get 10% off", "he": "קבלו 10% הנחה"}},
        )
    advocate = await add_customer(resources, tenant)
    headers = shopper(resources, tenant, advocate)

    hebrew = await share(
        referrals_client, headers, channel="EMAIL", to=" Grace@Example.org ", locale="he-IL"
    )
    french = await share(
        referrals_client, headers, channel="SMS", to="+33 6 12 34 56 78", locale="fr"
    )
    rows = await shares_of(resources, tenant)

    assert hebrew["userErrors"] == []
    assert french["userErrors"] == []
    assert hebrew["share"] | {"id": None} == {
        "id": None,
        "channel": "EMAIL",
        "locale": "he",
        "rightToLeft": True,
        "status": "QUEUED",
    }
    code = hebrew["referralLink"]["code"]
    by_channel = {row.channel: row for row in rows}
    email, sms = by_channel["email"], by_channel["sms"]
    assert resources.cipher.decrypt(
        email.recipient_encrypted, context=REFERRAL_SHARES_RECIPIENT
    ) == ("Grace@example.org")
    assert "grace" not in email.recipient_encrypted.lower()
    assert email.body.startswith("קבלו 10% הנחה")
    assert code in email.body
    assert email.subject == "מתנה מחבר"
    # No French text in the program: the English one, and the phone as the provider wants it.
    assert (sms.locale, sms.body.split(" http")[0]) == ("fr", "Get 10% off")
    assert resources.cipher.decrypt(sms.recipient_encrypted, context=REFERRAL_SHARES_RECIPIENT) == (
        "+33612345678"
    )
    assert {row.status for row in rows} == {"queued"}


async def test_one_idempotency_key_is_one_share_even_when_sent_at_once(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    advocate = await add_customer(resources, tenant)
    headers = shopper(resources, tenant, advocate)
    answers = await asyncio.gather(
        *(
            share(
                referrals_client, headers, channel="EMAIL", to="a@example.org", idempotencyKey="k1"
            )
            for _ in range(5)
        )
    )

    assert len({answer["share"]["id"] for answer in answers}) == 1
    assert len(await shares_of(resources, tenant)) == 1


async def test_a_shopper_cannot_share_more_than_the_daily_limit(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    limit = resources.settings.referral_shares_per_day
    advocate = await add_customer(resources, tenant)
    other = await add_customer(resources, tenant)
    headers = shopper(resources, tenant, advocate)
    answers = await asyncio.gather(
        *(
            share(referrals_client, headers, channel="EMAIL", to=f"f{n}@example.org")
            for n in range(limit + 3)
        )
    )
    others = await share(
        referrals_client, shopper(resources, tenant, other), channel="EMAIL", to="x@example.org"
    )

    codes = [[error["code"] for error in answer["userErrors"]] for answer in answers]
    assert codes.count([]) == limit
    assert codes.count(["SHARE_LIMIT_REACHED"]) == 3
    assert others["userErrors"] == []  # the limit is per customer
    assert len(await shares_of(resources, tenant)) == limit + 1


async def test_refused_shares_say_why_and_record_nothing(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await update_referral_program(
            WriteContext(session, tenant.merchant_id), {"channels": ["email"]}
        )
    advocate = await add_customer(resources, tenant)
    headers = shopper(resources, tenant, advocate)

    bad_email = await share(referrals_client, headers, channel="EMAIL", to="not-an-address")
    bad_phone = await share(referrals_client, headers, channel="WHATSAPP", to="0612345678")
    disabled = await share(referrals_client, headers, channel="SMS", to="+14155550123")
    staff = (
        await data(
            referrals_client,
            SHARE,
            {"input": {"channel": "EMAIL", "to": "a@example.org"}},
            tenant=tenant,
        )
    )["referralShare"]

    assert [error["code"] for error in bad_email["userErrors"]] == ["INVALID_RECIPIENT"]
    assert bad_email["userErrors"][0]["field"] == ["input", "to"]
    assert [error["code"] for error in bad_phone["userErrors"]] == ["INVALID_RECIPIENT"]
    assert [error["code"] for error in disabled["userErrors"]] == ["CHANNEL_DISABLED"]
    assert [error["code"] for error in staff["userErrors"]] == ["NOT_A_SHOPPER"]
    assert await shares_of(resources, tenant) == []
