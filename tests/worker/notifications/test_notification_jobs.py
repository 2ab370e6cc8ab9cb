"""The worker's notification jobs, called as arq calls them (respx for Klaviyo and Slack): a
ledger commit nudges the merchant's flows job; the job sends the customer's GDPR_DONE (their
revoked newsletter consent notwithstanding) and pushes changed Klaviyo profiles (the exact
Create or Update Profile request, once per change, 429 waited out, redacted customers never);
merchants are told of carried-out GDPR requests once each, on their Slack."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import respx
from sqlalchemy import select, update

from db.encryption_contexts import CUSTOMERS_EMAIL
from db.models import Customer, GdprRequest
from db.session import tenant_unit_of_work
from subgraphs.admin.gdpr.export_runs import run_export
from subgraphs.admin.gdpr.filed import FiledRequest, FiledRequestKind, file_request
from subgraphs.kit.events import ledger_changed
from subgraphs.kit.integrations.notifications import (
    KLAVIYO_EVENTS_URL,
    KLAVIYO_PROFILE_IMPORT_URL,
    KLAVIYO_REVISION,
)
from subgraphs.kit.jobs import notification_flows_job_id
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.consents.service import (
    ConsentChange,
    ConsentSource,
    ConsentStatus,
    ConsentType,
    update_consents,
)
from subgraphs.points.notifications.message_types import MessageType
from subgraphs.referrals.program.service import set_alert_webhook
from tests.conftest import Tenant
from tests.subgraphs.points.notifications.test_flows import FAST, send_through_klaviyo
from tests.subgraphs.points.test_expiry import earn_purchase
from tests.subgraphs.points.test_expiry_reminders import add_recipient, requests_with
from worker.gdpr.notices import notify_merchants
from worker.klaviyo_profiles.sync import reconcile_profiles
from worker.notifications.jobs import run_merchant_notifications, send_notification_flows


def ctx(resources: Resources, http: httpx.AsyncClient) -> dict[str, Any]:
    return {"resources": resources, "http": http}


async def email_of(resources: Resources, tenant: Tenant, customer_id: str) -> str:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        customer = await session.get(Customer, (tenant.merchant_id, customer_id))
    assert customer is not None
    return resources.cipher.decrypt(customer.email_encrypted, context=CUSTOMERS_EMAIL)


async def test_a_ledger_commit_queues_the_merchants_flows_job_once(
    resources: Resources, tenant: Tenant
) -> None:
    job_key = f"arq:job:{notification_flows_job_id(tenant.merchant_id)}"
    await resources.redis.delete(job_key)

    await ledger_changed(resources, tenant.merchant_id, source="test")
    await ledger_changed(resources, tenant.merchant_id, source="test")

    assert await resources.redis.exists(job_key) == 1
    queued = await resources.redis.zrange("arq:queue", 0, -1)
    assert queued.count(notification_flows_job_id(tenant.merchant_id).encode()) == 1
    await resources.redis.zrem("arq:queue", notification_flows_job_id(tenant.merchant_id))
    await resources.redis.delete(job_key)


async def test_the_job_sends_gdpr_done_whatever_the_consents_and_slack_hears_once(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    events = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))
    mock_http.post(KLAVIYO_PROFILE_IMPORT_URL).mock(return_value=httpx.Response(200))
    slack_url = f"https://hooks.slack.com/services/T000/B000/{uuid.uuid4().hex}"
    slack = mock_http.post(slack_url).mock(return_value=httpx.Response(200, text="ok"))
    await send_through_klaviyo(resources, tenant, api_key)
    customer_id = await add_recipient(resources, tenant)
    email = await email_of(resources, tenant, customer_id)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        write = WriteContext(session, tenant.merchant_id)
        await set_alert_webhook(write, slack_url, resources.cipher)
        await update_consents(
            write,
            resources.cipher,
            customer_id,
            [ConsentChange(ConsentType.NEWSLETTER, ConsentStatus.REVOKED)],
            source=ConsentSource.WIDGET,
            text_version=None,
            ip=None,
        )
        request = await file_request(
            write, resources.cipher, FiledRequest(FiledRequestKind.ACCESS, email, None)
        )
    # Accepted, not done: nobody is told yet.
    await notify_merchants(resources, http, now=datetime.now(UTC))
    assert slack.call_count == 0
    # The worker builds the export (enqueued after the commit); completing it is the news.
    await run_export(resources, tenant.merchant_id, request.id)

    report = await send_notification_flows(ctx(resources, http), tenant.merchant_id)
    await send_notification_flows(ctx(resources, http), tenant.merchant_id)
    told = await notify_merchants(resources, http, now=datetime.now(UTC))
    again = await notify_merchants(resources, http, now=datetime.now(UTC))

    [sent] = requests_with(events, api_key)
    attributes = sent["data"]["attributes"]
    assert attributes["metric"]["data"]["attributes"]["name"] == (
        "LoyalNest Privacy Request Completed"
    )
    assert attributes["unique_id"] == request.id
    assert attributes["profile"]["data"]["attributes"]["external_id"] == customer_id
    assert report["messages"]["sent"] == 1
    [notice] = [json.loads(call.request.content) for call in slack.calls]
    assert "customer data request" in notice["text"]
    assert email not in notice["text"]
    assert (told.slack_messages, again.slack_messages) == (1, 0)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        row = await session.scalar(select(GdprRequest).where(GdprRequest.id == request.id))
    assert row is not None
    assert row.merchant_notified_at is not None


async def test_profiles_are_pushed_on_change_once_with_klaviyos_profile_import(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))
    profiles = mock_http.post(KLAVIYO_PROFILE_IMPORT_URL).mock(
        side_effect=[httpx.Response(429, headers={"retry-after": "0"}), httpx.Response(200)]
    )
    await send_through_klaviyo(resources, tenant, api_key, [MessageType.POINTS_EARNED])
    customer_id = await add_recipient(resources, tenant)
    email = await email_of(resources, tenant, customer_id)
    entry = await earn_purchase(resources, tenant, customer_id, "9.00", at=datetime.now(UTC))

    first = await run_merchant_notifications(
        resources, http, tenant.merchant_id, now=datetime.now(UTC), retry=FAST
    )
    second = await run_merchant_notifications(
        resources, http, tenant.merchant_id, now=datetime.now(UTC), retry=FAST
    )

    assert profiles.call_count == 2  # the 429, then the push
    request = profiles.calls[-1].request
    assert request.headers["revision"] == KLAVIYO_REVISION
    assert request.headers["authorization"] == f"Klaviyo-API-Key {api_key}"
    assert request.headers["content-type"] == "application/vnd.api+json"
    assert json.loads(request.content) == {
        "data": {
            "type": "profile",
            "attributes": {
                "external_id": customer_id,
                "email": email,
                "properties": {
                    "loyalnest_vip_tier": None,
                    "loyalnest_vip_tier_rank": None,
                    "loyalnest_points_balance": entry.balance,
                    "loyalnest_lifetime_points": entry.balance,
                    "loyalnest_referral_url": None,
                },
            },
        }
    }
    assert (first["profiles"]["pushed"], second["profiles"]["pushed"]) == (1, 0)
    assert (first["messages"]["sent"], second["messages"]["sent"]) == (1, 0)


async def test_the_reconcile_pushes_what_changed_and_never_a_redacted_customer(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
) -> None:
    profiles = mock_http.post(KLAVIYO_PROFILE_IMPORT_URL).mock(return_value=httpx.Response(200))
    await send_through_klaviyo(resources, tenant, api_key, [])
    kept = await add_recipient(resources, tenant)
    erased = await add_recipient(resources, tenant)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await session.execute(
            update(Customer)
            .where(Customer.merchant_id == tenant.merchant_id, Customer.id == erased)
            .values(redacted_at=datetime.now(UTC))
        )

    first = await reconcile_profiles(resources, http, tenant.merchant_id, now=datetime.now(UTC))
    second = await reconcile_profiles(resources, http, tenant.merchant_id, now=datetime.now(UTC))

    pushed = [
        json.loads(call.request.content)["data"]["attributes"]["external_id"]
        for call in profiles.calls
        if api_key in call.request.headers["authorization"]
    ]
    assert pushed == [kept]
    assert (first.pushed, second.pushed, second.unchanged) == (1, 0, 1)
