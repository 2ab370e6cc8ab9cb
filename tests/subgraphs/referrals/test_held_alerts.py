"""A merchant hears on their Slack when referrals are held for review — once per window,
saying how many are new — through the Slack webhook they saved (stored encrypted, never shown).
Slack is third-party HTTP, mocked with respx; Postgres and Redis are real."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import respx
from sqlalchemy import select

from db.models import ReferralProgram
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.referrals.conversions import service as conversions
from subgraphs.referrals.conversions.fraud import PartyFacts
from subgraphs.referrals.conversions.service import AttributionSource, QualifyingOrder
from subgraphs.referrals.service import create_referral_link
from tests.conftest import SubgraphClient, Tenant, add_customer
from worker.referrals.jobs import alert_held_referrals


def new_hook() -> str:
    """A webhook URL of this test's own (other tests' shops may be alerted in the same run)."""
    return f"https://hooks.slack.com/services/T000/B000/{uuid.uuid4().hex}"


UPDATE = """mutation($url: String) { referralProgramUpdate(input: {alertSlackWebhookUrl: $url}) {
  referralProgram { alertsConfigured } userErrors { field code } } }"""
WINDOW = timedelta(milliseconds=300)


async def held_referral(resources: Resources, tenant: Tenant, advocate: str, code: str) -> None:
    friend = await add_customer(resources, tenant)
    now = datetime.now(UTC)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await conversions.attribute(
            session,
            tenant.merchant_id,
            code,
            friend_customer_id=friend,
            friend=PartyFacts(email="ada+x@example.com"),
            advocate=PartyFacts(email="ada@example.com"),
            source=AttributionSource.ORDER,
            now=now,
        )
        completion = await conversions.complete(
            session, tenant.merchant_id, friend, QualifyingOrder(friend, Decimal(50), now), now=now
        )
    assert completion is conversions.Completion.HELD


async def test_held_referrals_are_announced_once_per_window(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    hook_url = new_hook()
    bad = await referrals_client.execute(UPDATE, {"url": "http://evil.example/x"}, tenant=tenant)
    saved = await referrals_client.execute(UPDATE, {"url": hook_url}, tenant=tenant)
    assert bad["data"]["referralProgramUpdate"]["userErrors"] == [
        {"field": ["input", "alertSlackWebhookUrl"], "code": "INVALID_PROGRAM"}
    ]
    assert saved["data"]["referralProgramUpdate"]["referralProgram"] == {"alertsConfigured": True}
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        stored = await session.scalar(select(ReferralProgram.alert_webhook_encrypted))
    assert stored is not None
    assert "hooks.slack.com" not in stored

    advocate = await add_customer(resources, tenant, email="ada@example.com")
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        code = (await create_referral_link(session, tenant.merchant_id, advocate)).link.code
    await held_referral(resources, tenant, advocate, code)

    with respx.mock(assert_all_called=False) as slack:
        hook = slack.post(hook_url).mock(return_value=httpx.Response(200, text="ok"))
        slack.post(host="hooks.slack.com").mock(return_value=httpx.Response(200, text="ok"))
        async with httpx.AsyncClient() as http:

            async def run() -> int:
                """This shop's alerts of one run (other tests' shops may be alerted too)."""
                before = hook.call_count
                await alert_held_referrals(resources, http, window=WINDOW)
                return hook.call_count - before

            first, again = await run(), await run()
            await held_referral(resources, tenant, advocate, code)
            within = await run()
            await asyncio.sleep(WINDOW.total_seconds() + 0.1)
            after = await run()
            await asyncio.sleep(WINDOW.total_seconds() + 0.1)
            quiet = await run()

    texts = [json.loads(call.request.content)["text"] for call in hook.calls]
    assert (first, again, within, after, quiet) == (1, 0, 0, 1, 0)
    assert "1 new referral(s)" in texts[0]
    assert "(1 in all)" in texts[0]
    assert "1 new referral(s)" in texts[1]
    assert "(2 in all)" in texts[1]


async def test_a_failed_alert_is_tried_again_on_the_next_run(
    referrals_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    hook_url = new_hook()
    await referrals_client.execute(UPDATE, {"url": hook_url}, tenant=tenant)
    advocate = await add_customer(resources, tenant, email="ada@example.com")
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        code = (await create_referral_link(session, tenant.merchant_id, advocate)).link.code
    await held_referral(resources, tenant, advocate, code)

    with respx.mock(assert_all_called=False) as slack:
        hook = slack.post(hook_url).mock(
            side_effect=[httpx.Response(404, text="no_service"), httpx.Response(200, text="ok")]
        )
        slack.post(host="hooks.slack.com").mock(return_value=httpx.Response(200, text="ok"))
        async with httpx.AsyncClient() as http:
            await alert_held_referrals(resources, http, window=timedelta(hours=1))
            failed = hook.call_count
            await alert_held_referrals(resources, http, window=timedelta(hours=1))
            await alert_held_referrals(resources, http, window=timedelta(hours=1))

    # Refused once (404), then sent, then quiet for the rest of the window.
    assert (failed, hook.call_count) == (1, 2)
