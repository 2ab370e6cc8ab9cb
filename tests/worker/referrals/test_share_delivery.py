"""The worker sends referral shares through the respx-mocked providers: email as a Klaviyo
event keyed by the share (the same key on every retry), SMS through Postscript, WhatsApp
through Twilio; 5xx and 429 are retried with backoff; a provider that stays down is tried by
later jobs and then given up with the reason recorded; a refusal fails at once; a share is
never sent twice, whether its job runs again or five run at once."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
import respx
from sqlalchemy import select

from db.models import ReferralShare
from db.session import tenant_unit_of_work
from subgraphs.kit.integrations.http_retries import RetryPolicy
from subgraphs.kit.integrations.notifications import KLAVIYO_EVENTS_URL, POSTSCRIPT_MESSAGES_URL
from subgraphs.kit.integrations.twilio import twilio_messages_url
from subgraphs.kit.resources import Resources
from subgraphs.referrals.program.service import ShareChannel
from subgraphs.referrals.shares.service import ShareRequest, share_link
from tests.conftest import Tenant, add_customer
from tests.subgraphs.points.test_expiry_reminders import notify_through
from worker.referrals.shares import MAX_ATTEMPTS, ShareOutcome, requeue_overdue_shares, send_share

FAST = RetryPolicy(base_delay=0.001)
TWILIO_SID = "AC" + "0" * 32


@pytest.fixture
def mock_http() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def queued_share(
    resources: Resources, tenant: Tenant, channel: ShareChannel, to: str, locale: str = "en"
) -> str:
    advocate = await add_customer(resources, tenant)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        result = await share_link(
            session,
            tenant.merchant_id,
            advocate,
            ShareRequest(channel, to, locale, None),
            cipher=resources.cipher,
            link_url_template=resources.settings.storefront_url_template,
            shop_domain=tenant.shop_domain,
            limit=10,
            now=datetime.now(UTC),
        )
    return result.share.id


async def the_share(resources: Resources, tenant: Tenant, share_id: str) -> ReferralShare:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        row = await session.scalar(select(ReferralShare).where(ReferralShare.id == share_id))
    assert row is not None
    return row


async def test_an_email_share_is_retried_through_5xx_and_429_and_sent_once(
    resources: Resources, tenant: Tenant, http: httpx.AsyncClient, mock_http: respx.MockRouter
) -> None:
    key = f"pk_{uuid.uuid4().hex}"
    await notify_through(resources, tenant, "klaviyo", key)
    share_id = await queued_share(resources, tenant, ShareChannel.EMAIL, "grace@example.org", "es")
    klaviyo = mock_http.post(KLAVIYO_EVENTS_URL).mock(
        side_effect=[
            httpx.Response(500),
            httpx.Response(429, headers={"retry-after": "0"}),
            httpx.Response(202),
        ]
    )

    first = await send_share(resources, http, tenant.merchant_id, share_id, retry=FAST)
    again = await send_share(resources, http, tenant.merchant_id, share_id, retry=FAST)
    row = await the_share(resources, tenant, share_id)

    assert (first.outcome, again.outcome) == (ShareOutcome.SENT, ShareOutcome.SKIPPED)
    assert klaviyo.call_count == 3
    bodies = [json.loads(call.request.content) for call in klaviyo.calls]
    assert {body["data"]["attributes"]["unique_id"] for body in bodies} == {share_id}
    attributes = bodies[-1]["data"]["attributes"]
    assert attributes["profile"]["data"]["attributes"] == {"email": "grace@example.org"}
    assert (attributes["properties"]["locale"], attributes["properties"]["rtl"]) == ("es", False)
    assert attributes["properties"]["subject"] == "Un regalo de un amigo"
    assert klaviyo.calls[-1].request.headers["authorization"] == f"Klaviyo-API-Key {key}"
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)


async def test_concurrent_jobs_for_one_share_send_it_once(
    resources: Resources, tenant: Tenant, http: httpx.AsyncClient, mock_http: respx.MockRouter
) -> None:
    await notify_through(resources, tenant, "postscript", f"ps_{uuid.uuid4().hex}")
    share_id = await queued_share(resources, tenant, ShareChannel.SMS, "+14155550123")
    postscript = mock_http.post(POSTSCRIPT_MESSAGES_URL).mock(return_value=httpx.Response(200))

    outcomes = await asyncio.gather(
        *(send_share(resources, http, tenant.merchant_id, share_id, retry=FAST) for _ in range(5))
    )

    assert sorted(outcome.outcome for outcome in outcomes).count(ShareOutcome.SENT) == 1
    assert postscript.call_count == 1
    sent = json.loads(postscript.calls[0].request.content)
    assert sent["phone"] == "+14155550123"
    assert sent["body"].startswith("Give a friend a reward")


async def test_a_provider_that_stays_down_is_tried_later_then_given_up(
    resources: Resources, tenant: Tenant, http: httpx.AsyncClient, mock_http: respx.MockRouter
) -> None:
    await notify_through(resources, tenant, "klaviyo", f"pk_{uuid.uuid4().hex}")
    share_id = await queued_share(resources, tenant, ShareChannel.EMAIL, "ada@example.org")
    klaviyo = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(503))
    now = datetime.now(UTC)

    attempts = []
    for _ in range(MAX_ATTEMPTS):
        attempt = await send_share(
            resources, http, tenant.merchant_id, share_id, now=now, retry=FAST
        )
        attempts.append(attempt)
        too_soon = await send_share(
            resources, http, tenant.merchant_id, share_id, now=now, retry=FAST
        )
        assert too_soon.outcome is ShareOutcome.SKIPPED  # its next try is not due yet
        now += attempt.retry_in or timedelta(0)
    row = await the_share(resources, tenant, share_id)

    assert [attempt.outcome for attempt in attempts] == [
        ShareOutcome.RETRYING,
        ShareOutcome.RETRYING,
        ShareOutcome.FAILED,
    ]
    assert attempts[0].retry_in is not None
    assert attempts[1].retry_in is not None
    assert attempts[1].retry_in > attempts[0].retry_in  # backing off
    assert klaviyo.call_count == MAX_ATTEMPTS * FAST.attempts
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert row.last_error is not None
    assert "503" in row.last_error


async def test_a_refusal_or_a_missing_account_fails_at_once_with_the_reason(
    resources: Resources, tenant: Tenant, http: httpx.AsyncClient, mock_http: respx.MockRouter
) -> None:
    await notify_through(resources, tenant, "klaviyo", f"pk_{uuid.uuid4().hex}")
    refused_id = await queued_share(resources, tenant, ShareChannel.EMAIL, "ada@example.org")
    sms_id = await queued_share(resources, tenant, ShareChannel.SMS, "+14155550123")
    whatsapp_id = await queued_share(resources, tenant, ShareChannel.WHATSAPP, "+14155550123")
    mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(400, text="bad email"))

    refused = await send_share(resources, http, tenant.merchant_id, refused_id, retry=FAST)
    sms = await send_share(resources, http, tenant.merchant_id, sms_id, retry=FAST)
    whatsapp = await send_share(resources, http, tenant.merchant_id, whatsapp_id, retry=FAST)

    assert [refused.outcome, sms.outcome, whatsapp.outcome] == [ShareOutcome.FAILED] * 3
    assert refused.error is not None
    assert "400" in refused.error
    assert sms.error is not None
    assert "postscript" in sms.error
    assert whatsapp.error is not None
    assert "Twilio" in whatsapp.error
    assert (await the_share(resources, tenant, refused_id)).status == "failed"


async def test_a_whatsapp_share_goes_through_twilio(
    resources: Resources, tenant: Tenant, http: httpx.AsyncClient, mock_http: respx.MockRouter
) -> None:
    settings = resources.settings.model_copy(
        update={
            "twilio_account_sid": TWILIO_SID,
            "twilio_auth_token": "secret",
            "twilio_whatsapp_from": "+15005550006",
        }
    )
    with_twilio = dataclasses.replace(resources, settings=settings)
    share_id = await queued_share(resources, tenant, ShareChannel.WHATSAPP, "+447700900123", "ar")
    twilio = mock_http.post(twilio_messages_url(TWILIO_SID)).mock(
        side_effect=[httpx.Response(500), httpx.Response(201, json={"sid": "SM1"})]
    )

    attempt = await send_share(with_twilio, http, tenant.merchant_id, share_id, retry=FAST)

    assert attempt.outcome is ShareOutcome.SENT
    assert twilio.call_count == 2
    form = dict(httpx.QueryParams(twilio.calls[-1].request.content.decode()))
    assert (form["To"], form["From"]) == ("whatsapp:+447700900123", "whatsapp:+15005550006")
    assert "\u2068" in form["Body"]  # the link isolated inside the right-to-left text


async def test_the_sweep_queues_again_only_overdue_shares(
    resources: Resources, tenant: Tenant
) -> None:
    share_id = await queued_share(resources, tenant, ShareChannel.EMAIL, "ada@example.org")

    now = await requeue_overdue_shares(resources, now=datetime.now(UTC))
    later = await requeue_overdue_shares(resources, now=datetime.now(UTC) + timedelta(minutes=5))

    assert share_id not in now  # just queued: its own job will send it
    assert share_id in later
