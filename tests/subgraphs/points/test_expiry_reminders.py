"""Long because every reminder outcome (sent, retried, failed, skipped) has its own case.

Expiry reminders: up to 30 days before points expire, each customer hears once per expiry day,
in their own language, through the merchant's Klaviyo or Postscript (mocked with respx); every
outcome is recorded on the reminder and in the audit log."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
import respx
from sqlalchemy import select, update

from db.encryption_contexts import CUSTOMERS_PHONE, PROGRAM_SETTINGS_NOTIFICATION_API_KEY
from db.models import AuditLog, Customer, ExpiryReminder, ProgramSettings
from db.session import tenant_unit_of_work
from subgraphs.kit.integrations.http_retries import RetryPolicy
from subgraphs.kit.integrations.notifications import KLAVIYO_EVENTS_URL, POSTSCRIPT_MESSAGES_URL
from subgraphs.kit.resources import Resources
from subgraphs.points.customers.service import register_customer
from subgraphs.points.expiry.jobs import queue_expiry_reminders, run_expiry_reminders
from subgraphs.points.expiry.repository import DueReminder, ReminderRepository
from tests.conftest import Tenant
from tests.subgraphs.points.test_expiry import DAY, configure, earn_purchase, redeem

FAST = RetryPolicy(base_delay=0.001)
THIRTY_DAYS = {"kind": "after_earning", "days": 30}


@pytest.fixture
def t0() -> datetime:
    # Noon UTC: points earned a few hours apart stay on the same expiry day.
    return datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
def api_key() -> str:
    # Other tests' merchants are reminded by the same job runs; their requests carry their
    # own keys, so each test counts only the requests made with its key.
    return f"key_{uuid.uuid4().hex}"


@pytest.fixture
def mock_http() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def notify_through(
    resources: Resources,
    tenant: Tenant,
    provider: str,
    api_key: str | None,
    expiry: dict[str, Any] = THIRTY_DAYS,
) -> None:
    await configure(resources, tenant, expiry=expiry, notifications=provider, points_name="Stars")
    if api_key is None:
        return
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await session.execute(
            update(ProgramSettings)
            .where(ProgramSettings.merchant_id == tenant.merchant_id)
            .values(
                notification_api_key_encrypted=resources.cipher.encrypt(
                    api_key, context=PROGRAM_SETTINGS_NOTIFICATION_API_KEY
                )
            )
        )


async def add_recipient(
    resources: Resources, tenant: Tenant, *, locale: str = "en", phone: str | None = None
) -> str:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        customer_id = await register_customer(
            session,
            tenant.merchant_id,
            resources.cipher,
            email=f"{uuid.uuid4().hex[:10]}@example.com",
            locale=locale,
        )
        if phone is not None:
            await session.execute(
                update(Customer)
                .where(Customer.merchant_id == tenant.merchant_id, Customer.id == customer_id)
                .values(phone_encrypted=resources.cipher.encrypt(phone, context=CUSTOMERS_PHONE))
            )
    return customer_id


def requests_with(route: respx.Route, api_key: str) -> list[dict[str, Any]]:
    return [
        json.loads(call.request.content)
        for call in route.calls
        if api_key in call.request.headers.get("authorization", "")
    ]


def klaviyo_properties(request: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = request["data"]["attributes"]["properties"]
    return properties


async def reminders(resources: Resources, tenant: Tenant) -> list[ExpiryReminder]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        result = await session.scalars(
            select(ExpiryReminder)
            .where(ExpiryReminder.merchant_id == tenant.merchant_id)
            .order_by(ExpiryReminder.customer_id, ExpiryReminder.expires_on)
        )
        return list(result)


async def audit(resources: Resources, tenant: Tenant, action: str) -> list[dict[str, Any]]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        result = await session.scalars(
            select(AuditLog.metadata_).where(
                AuditLog.merchant_id == tenant.merchant_id, AuditLog.action == action
            )
        )
        return list(result)


async def remind(resources: Resources, http: httpx.AsyncClient, at: datetime) -> None:
    summary = await run_expiry_reminders(resources, http, now=at, retry=FAST)
    assert summary.failed_merchants == []


def klaviyo_accepts(mock_http: respx.MockRouter) -> respx.Route:
    return mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(202))


# --- delivery -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "word", "rtl"),
    [
        ("en", "expire", False),
        ("es", "caducan", False),
        ("fr", "expirent", False),
        ("ar", "صلاحية", True),
        ("he", "יפוגו", True),
    ],
)
async def test_klaviyo_reminder_speaks_the_customers_language(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
    t0: datetime,
    locale: str,
    word: str,
    rtl: bool,
) -> None:
    route = klaviyo_accepts(mock_http)
    await notify_through(resources, tenant, "klaviyo", api_key)
    customer_id = await add_recipient(resources, tenant, locale=locale)
    await earn_purchase(resources, tenant, customer_id, "12.50", at=t0)
    expires_on = (t0 + 30 * DAY).date()

    await remind(resources, http, t0 + DAY)

    [request] = requests_with(route, api_key)
    properties = klaviyo_properties(request)
    assert properties["locale"] == locale
    assert properties["rtl"] is rtl
    assert properties["points"] == 125
    assert properties["expires_on"] == expires_on.isoformat()
    assert word in properties["subject"] + properties["body"]
    assert "125" in properties["body"]
    assert "Stars" in properties["body"]
    assert tenant.shop_domain in properties["body"]
    profile = request["data"]["attributes"]["profile"]["data"]["attributes"]
    assert profile["external_id"] == customer_id
    [reminder] = await reminders(resources, tenant)
    assert (reminder.customer_id, reminder.expires_on, reminder.points) == (
        customer_id,
        expires_on,
        125,
    )
    assert (reminder.status, reminder.channel, reminder.error) == ("sent", "klaviyo", None)
    assert reminder.sent_at == t0 + DAY
    [logged] = await audit(resources, tenant, "expiry_notification_sent")
    assert logged["customer_id"] == customer_id
    assert logged["locale"] == locale


async def test_postscript_texts_the_reminder(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
    t0: datetime,
) -> None:
    route = mock_http.post(POSTSCRIPT_MESSAGES_URL).mock(
        return_value=httpx.Response(201, json={"id": "msg_1"})
    )
    await notify_through(resources, tenant, "postscript", api_key)
    customer_id = await add_recipient(resources, tenant, locale="es", phone="+34600000001")
    await earn_purchase(resources, tenant, customer_id, "8.00", at=t0)

    await remind(resources, http, t0 + DAY)

    [request] = requests_with(route, api_key)
    assert request["phone"] == "+34600000001"
    assert "caducan" in request["body"]
    assert "80 Stars" in request["body"]
    [reminder] = await reminders(resources, tenant)
    assert (reminder.status, reminder.channel) == ("sent", "postscript")


async def test_a_reminder_is_sent_once_however_often_the_job_runs(
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

    await remind(resources, http, t0 + DAY)
    await remind(resources, http, t0 + DAY)
    await remind(resources, http, t0 + 3 * DAY)
    await remind(resources, http, t0 + 29 * DAY)

    assert len(requests_with(route, api_key)) == 1
    assert len(await reminders(resources, tenant)) == 1


async def test_points_are_summed_per_expiry_day(
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
    await earn_purchase(resources, tenant, customer_id, "2.50", at=t0 + timedelta(hours=1))
    await earn_purchase(resources, tenant, customer_id, "5.00", at=t0 + 2 * DAY)
    # Spent points are not at risk: the redemption takes from the lot expiring first.
    await redeem(resources, tenant, customer_id, 20, at=t0 + 2 * DAY)

    # At most one reminder a week: the soonest day first, the next one a week later.
    await remind(resources, http, t0 + 3 * DAY)
    await remind(resources, http, t0 + 9 * DAY)
    await remind(resources, http, t0 + 10 * DAY + timedelta(hours=1))

    sent = [
        (klaviyo_properties(request)["expires_on"], klaviyo_properties(request)["points"])
        for request in requests_with(route, api_key)
    ]
    assert sent == [
        ((t0 + 30 * DAY).date().isoformat(), 105),
        ((t0 + 32 * DAY).date().isoformat(), 50),
    ]


async def test_points_expiring_later_than_30_days_wait(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
    t0: datetime,
) -> None:
    route = klaviyo_accepts(mock_http)
    await notify_through(
        resources, tenant, "klaviyo", api_key, {"kind": "after_earning", "days": 60}
    )
    customer_id = await add_recipient(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)

    await remind(resources, http, t0 + 29 * DAY)
    assert requests_with(route, api_key) == []

    await remind(resources, http, t0 + 31 * DAY)
    [request] = requests_with(route, api_key)
    assert klaviyo_properties(request)["expires_on"] == (t0 + 60 * DAY).date().isoformat()


async def test_inactivity_reminds_of_the_whole_balance(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
    t0: datetime,
) -> None:
    route = klaviyo_accepts(mock_http)
    await notify_through(resources, tenant, "klaviyo", api_key, {"kind": "inactivity", "days": 90})
    customer_id = await add_recipient(resources, tenant, locale="fr")
    await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)
    await earn_purchase(resources, tenant, customer_id, "3.00", at=t0 + DAY)

    await remind(resources, http, t0 + 59 * DAY)
    assert requests_with(route, api_key) == []

    await remind(resources, http, t0 + 62 * DAY)
    await remind(resources, http, t0 + 63 * DAY)

    [request] = requests_with(route, api_key)
    properties = klaviyo_properties(request)
    assert properties["points"] == 130
    assert properties["expires_on"] == (t0 + 91 * DAY).date().isoformat()
    assert "expirent" in properties["body"]


# --- failures -------------------------------------------------------------------------------


async def test_a_refusing_provider_marks_the_reminder_failed(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
    t0: datetime,
) -> None:
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(
        return_value=httpx.Response(400, json={"errors": [{"detail": "invalid profile"}]})
    )
    await notify_through(resources, tenant, "klaviyo", api_key)
    customer_id = await add_recipient(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)

    await remind(resources, http, t0 + DAY)
    await remind(resources, http, t0 + 2 * DAY)

    assert len(requests_with(route, api_key)) == 1
    [reminder] = await reminders(resources, tenant)
    assert reminder.status == "failed"
    assert reminder.error is not None
    assert "400" in reminder.error
    assert "invalid profile" in reminder.error
    assert reminder.sent_at is None
    assert await audit(resources, tenant, "expiry_notification_sent") == []
    [logged] = await audit(resources, tenant, "expiry_notification_failed")
    assert logged["customer_id"] == customer_id


async def test_an_unavailable_provider_is_retried_then_marked_failed(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
    t0: datetime,
) -> None:
    route = mock_http.post(KLAVIYO_EVENTS_URL).mock(return_value=httpx.Response(503))
    await notify_through(resources, tenant, "klaviyo", api_key)
    customer_id = await add_recipient(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)

    await remind(resources, http, t0 + DAY)

    assert len(requests_with(route, api_key)) == FAST.attempts
    [reminder] = await reminders(resources, tenant)
    assert reminder.status == "failed"
    assert reminder.error is not None
    assert "unavailable" in reminder.error


async def test_an_sms_reminder_needs_a_phone(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
    t0: datetime,
) -> None:
    route = mock_http.post(POSTSCRIPT_MESSAGES_URL).mock(return_value=httpx.Response(201))
    await notify_through(resources, tenant, "postscript", api_key)
    customer_id = await add_recipient(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)

    await remind(resources, http, t0 + DAY)

    assert requests_with(route, api_key) == []
    [reminder] = await reminders(resources, tenant)
    assert reminder.status == "failed"
    assert reminder.error is not None
    assert "phone" in reminder.error


async def test_no_api_key_means_no_reminders(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    t0: datetime,
) -> None:
    route = klaviyo_accepts(mock_http)
    await notify_through(resources, tenant, "klaviyo", None)
    customer_id = await add_recipient(resources, tenant)
    await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)
    calls_before = route.call_count

    await remind(resources, http, t0 + DAY)

    assert await reminders(resources, tenant) == []
    assert route.call_count == calls_before


async def test_a_reminder_left_queued_by_a_crashed_run_is_sent_later(
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
    # What a run leaves behind when it stops between queueing and sending.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await ReminderRepository(session, tenant.merchant_id).queue(
            [DueReminder(customer_id, expires_on, 100)], channel="klaviyo", now=crashed_at
        )

    await remind(resources, http, crashed_at + timedelta(minutes=10))
    assert requests_with(route, api_key) == []

    await remind(resources, http, crashed_at + timedelta(hours=2))

    [request] = requests_with(route, api_key)
    assert klaviyo_properties(request)["expires_on"] == expires_on.isoformat()
    [reminder] = await reminders(resources, tenant)
    assert reminder.status == "sent"


# --- the job --------------------------------------------------------------------------------


async def test_the_arq_job_reminds_on_the_clock(
    resources: Resources, tenant: Tenant, mock_http: respx.MockRouter, api_key: str
) -> None:
    route = klaviyo_accepts(mock_http)
    await notify_through(resources, tenant, "klaviyo", api_key)
    soon = await add_recipient(resources, tenant, locale="he")
    await earn_purchase(resources, tenant, soon, "10.00", at=datetime.now(UTC) - DAY)

    result = await queue_expiry_reminders({"resources": resources})

    assert result["sent"] >= 1
    [request] = requests_with(route, api_key)
    assert klaviyo_properties(request)["rtl"] is True
    [reminder] = await reminders(resources, tenant)
    assert (reminder.customer_id, reminder.status) == (soon, "sent")


async def test_a_redacted_customer_is_not_reminded(
    resources: Resources,
    tenant: Tenant,
    http: httpx.AsyncClient,
    mock_http: respx.MockRouter,
    api_key: str,
    t0: datetime,
) -> None:
    route = klaviyo_accepts(mock_http)
    await notify_through(resources, tenant, "klaviyo", api_key)
    erased = await add_recipient(resources, tenant)
    erased_later = await add_recipient(resources, tenant)
    kept = await add_recipient(resources, tenant)
    for customer_id in (erased, erased_later, kept):
        await earn_purchase(resources, tenant, customer_id, "10.00", at=t0)
    expires_on: date = (t0 + 30 * DAY).date()
    crashed_at = t0 + DAY
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        # Queued by a run that crashed before sending, then the customer's data was erased.
        await ReminderRepository(session, tenant.merchant_id).queue(
            [DueReminder(erased_later, expires_on, 100)], channel="klaviyo", now=crashed_at
        )
        # What customers/redact records (tests/subgraphs/admin/gdpr covers the whole path).
        await session.execute(
            update(Customer)
            .where(
                Customer.merchant_id == tenant.merchant_id,
                Customer.id.in_([erased, erased_later]),
            )
            .values(redacted_at=crashed_at)
        )

    await remind(resources, http, crashed_at + timedelta(hours=2))

    assert len(requests_with(route, api_key)) == 1
    by_customer = {row.customer_id: row for row in await reminders(resources, tenant)}
    assert set(by_customer) == {erased_later, kept}  # none was ever queued for `erased`
    assert by_customer[kept].status == "sent"
    assert by_customer[erased_later].status == "failed"
