"""A reminder resent after a crash reaches Klaviyo (respx) with the dedupe key of its first
send, so Klaviyo drops the second copy instead of mailing the customer twice."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
import respx

from db.session import tenant_unit_of_work
from subgraphs.kit.integrations.message_rendering import render_expiry_reminder
from subgraphs.kit.integrations.notifications import KlaviyoClient, Recipient
from subgraphs.kit.resources import Resources
from subgraphs.points.expiry import service as expiry
from subgraphs.points.expiry.repository import DueReminder, ReminderRepository
from tests.conftest import Tenant
from tests.subgraphs.points.test_expiry import DAY, earn_purchase
from tests.subgraphs.points.test_expiry_reminders import (
    FAST,
    add_recipient,
    klaviyo_accepts,
    notify_through,
    remind,
    reminders,
    requests_with,
)


def unique_id(request: dict[str, object]) -> object:
    return request["data"]["attributes"]["unique_id"]  # type: ignore[index]


async def test_a_reminder_resent_after_a_crash_carries_the_same_dedupe_key(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
    t0: datetime,
) -> None:
    route = klaviyo_accepts(mock_http)
    await notify_through(resources, tenant, "klaviyo", api_key)
    customer_id = await add_recipient(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)
    expires_on: date = (t0 + 30 * DAY).date()
    crashed_at = t0 + DAY
    # A run queues the reminder and sends it; Klaviyo accepts, and the worker dies before it
    # records the delivery: the reminder is still queued.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        [queued] = await ReminderRepository(session, tenant.merchant_id).queue(
            [DueReminder(customer_id, expires_on, 100)], channel="klaviyo", now=crashed_at
        )
        recipients = await expiry.recipients(
            session, tenant.merchant_id, resources.cipher, [customer_id]
        )
    await expiry.deliver(
        KlaviyoClient(http, api_key, retry=FAST),
        [queued],
        recipients,
        points_name="Stars",
        shop_name=tenant.shop_domain,
    )

    await remind(resources, http, crashed_at + timedelta(hours=2))

    first, resent = requests_with(route, api_key)
    assert unique_id(first) == unique_id(resent) == queued.id
    [reminder] = await reminders(resources, tenant)
    assert reminder.status == "sent"


async def test_without_an_event_id_the_key_is_still_the_same_on_every_call(
    http: httpx.AsyncClient, mock_http: respx.MockRouter
) -> None:
    route = klaviyo_accepts(mock_http)
    client = KlaviyoClient(http, "key_plain", retry=FAST)
    ada = Recipient(email="ada@example.com", phone=None, locale="en", external_id="c-1")
    grace = Recipient(email="grace@example.com", phone=None, locale="en", external_id="c-2")
    message = render_expiry_reminder(
        "en", points=5, points_name="Stars", expires_on=date(2030, 1, 2), shop_name="s"
    )

    for recipient in (ada, ada, grace):
        await client.send_expiry_reminder(recipient, message, points=5, expires_on=date(2030, 1, 2))

    keys = [unique_id(request) for request in requests_with(route, "key_plain")]
    assert keys[0] == keys[1] != keys[2]
