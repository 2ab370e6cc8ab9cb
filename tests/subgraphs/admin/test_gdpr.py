"""GDPR webhooks on real Postgres: a data request exports everything held about a customer;
customers/redact leaves none of their personal data in any table (found by scanning every
table, decrypting every encrypted value) while the ledger still adds up; shop/redact leaves
no row of the shop but the delivery being processed.

The customer's data is made by the real services (registration, ledger, sandbox redemption,
reminders, referral link, audit log, webhook inbox); deliveries run as the worker runs them:
claimed from the inbox, handled, marked done in one transaction."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.encryption_contexts import CUSTOMER_PHONE, REDEMPTION_CODE
from db.ids import new_id
from db.models import ApiLog, AuditLog, Customer, GdprRequest, PointsTransaction, RewardKind
from db.session import tenant_unit_of_work
from gateway.edge.webhooks import inbox
from subgraphs.admin import gdpr
from subgraphs.admin.service import record_uninstall
from subgraphs.kit.repository import insert_audit_log
from subgraphs.kit.resources import Resources
from subgraphs.points.customers.service import register_customer
from subgraphs.points.expiry.repository import DueReminder, ReminderRepository
from subgraphs.points.ledger import service as ledger
from subgraphs.points.orders.reversal import ReverseCommand, reverse_order
from subgraphs.points.program.calculation import EarnAction, Order, OrderLine
from subgraphs.points.program.service import Channel
from subgraphs.points.rewards.redemption import RedeemCommand, redeem_reward
from subgraphs.points.rewards.service import RewardTerms, create_reward
from subgraphs.points.shopify import ShopifyConnector
from subgraphs.referrals.service import create_referral_link
from tests.conftest import Tenant, add_customer
from tests.pii_scan import UNREADABLE, find_pii, rows_of_merchant

PAYLOAD_CONTEXT = "api_logs.payload"
Handler = Callable[[AsyncSession, str, dict[str, Any], str, datetime], Awaitable[Any]]


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    email: str
    phone: str
    shopify_id: str

    @classmethod
    def new(cls) -> Person:
        tag = secrets.token_hex(3)
        return cls(
            first_name=f"Ezekiel{tag}",
            last_name=f"Quackenbush{tag}",
            email=f"ezekiel.quackenbush.{tag}@example.com",
            phone=f"+1555{secrets.randbelow(10**7):07d}",
            shopify_id=str(10**12 + secrets.randbelow(9 * 10**12)),
        )

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def dashed_phone(self) -> str:
        digits = self.phone.removeprefix("+1")
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"

    @property
    def needles(self) -> list[str]:
        return [
            self.email,
            self.phone,
            self.dashed_phone,
            self.phone.removeprefix("+1"),
            self.first_name,
            self.last_name,
            self.shopify_id,
        ]

    def shopify_customer(self) -> dict[str, Any]:
        # Shopify's casing is not ours: lookups must normalize.
        return {"id": int(self.shopify_id), "email": self.email.upper(), "phone": self.phone}

    def order_payload(self, order_id: str, *, with_customer: bool = True) -> dict[str, Any]:
        return {
            "id": int(order_id),
            "email": self.email,
            "phone": self.phone,
            "billing_address": {"first_name": self.first_name, "last_name": self.last_name},
            **(
                {"customer": {**self.shopify_customer(), "first_name": self.first_name}}
                if with_customer
                else {}
            ),
        }


@dataclass
class Story:
    person: Person
    customer_id: str
    order_id: str
    code: str
    referral_code: str
    pending_delivery: str
    failed_delivery: str
    done_delivery: str
    guest_delivery: str


# --- the worker's way of running a delivery -------------------------------------------------


async def receive(
    resources: Resources,
    tenant: Tenant,
    topic: str,
    payload: Mapping[str, Any],
    shopify_customer_id: str | None,
) -> str:
    """What the shim does: the encrypted payload lands in the inbox."""
    body = json.dumps(payload)
    delivery = inbox.NewDelivery(
        merchant_id=tenant.merchant_id,
        id=new_id(),
        topic=topic,
        webhook_id=new_id(),
        event_id=None,
        triggered_at=None,
        api_version="2025-10",
        payload_encrypted=resources.cipher.encrypt(body, context=PAYLOAD_CONTEXT),
        payload_bytes=len(body),
        shopify_customer_id=shopify_customer_id,
    )
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        assert await inbox.insert_delivery(session, delivery)
    return delivery.id


async def process(resources: Resources, tenant: Tenant, delivery_id: str, handler: Handler) -> Any:
    """What the worker does: claim, decrypt, handle and mark done in one transaction."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        row = await inbox.claim_pending(session, delivery_id)
        assert row is not None
        assert row.payload_encrypted is not None
        payload = json.loads(
            resources.cipher.decrypt(row.payload_encrypted, context=PAYLOAD_CONTEXT)
        )
        result = await handler(session, tenant.merchant_id, payload, delivery_id, datetime.now(UTC))
        await inbox.mark_done(session, row, duration_ms=1)
    return result


def data_request(resources: Resources) -> Handler:
    async def handle(
        session: AsyncSession,
        merchant_id: str,
        payload: dict[str, Any],
        delivery: str,
        now: datetime,
    ) -> GdprRequest:
        return await gdpr.handle_customer_data_request(
            session, resources.cipher, merchant_id, payload, delivery_id=delivery, now=now
        )

    return handle


def customer_redact(resources: Resources) -> Handler:
    async def handle(
        session: AsyncSession,
        merchant_id: str,
        payload: dict[str, Any],
        delivery: str,
        now: datetime,
    ) -> GdprRequest:
        return await gdpr.handle_customer_redact(
            session, resources.cipher, merchant_id, payload, delivery_id=delivery, now=now
        )

    return handle


async def shop_redact(
    session: AsyncSession, merchant_id: str, payload: dict[str, Any], delivery: str, now: datetime
) -> None:
    await gdpr.handle_shop_redact(session, merchant_id, payload, delivery_id=delivery, now=now)


async def request_data(resources: Resources, tenant: Tenant, person: Person) -> GdprRequest:
    payload = {
        "shop_id": 1,
        "shop_domain": tenant.shop_domain,
        "orders_requested": [299938],
        "customer": person.shopify_customer(),
        "data_request": {"id": 9999},
    }
    delivery = await receive(
        resources, tenant, "customers/data_request", payload, person.shopify_id
    )
    request: GdprRequest = await process(resources, tenant, delivery, data_request(resources))
    return request


async def redact(
    resources: Resources, tenant: Tenant, person: Person, orders: list[str]
) -> GdprRequest:
    payload = {
        "shop_id": 1,
        "shop_domain": tenant.shop_domain,
        "customer": person.shopify_customer(),
        "orders_to_redact": [int(order) for order in orders],
    }
    delivery = await receive(resources, tenant, "customers/redact", payload, person.shopify_id)
    request: GdprRequest = await process(resources, tenant, delivery, customer_redact(resources))
    return request


# --- the customer's data, made by the real services -----------------------------------------


async def tell_story(resources: Resources, tenant: Tenant, person: Person) -> Story:
    now = datetime.now(UTC)
    merchant_id = tenant.merchant_id
    order_id = str(10**12 + secrets.randbelow(9 * 10**12))
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        customer_id = await register_customer(
            session,
            merchant_id,
            resources.cipher,
            email=person.email,
            shopify_customer_id=person.shopify_id,
            country_code="GB",
        )
        await session.execute(
            update(Customer)
            .where(Customer.merchant_id == merchant_id, Customer.id == customer_id)
            .values(phone_encrypted=resources.cipher.encrypt(person.phone, context=CUSTOMER_PHONE))
        )
        await ledger.earn(
            session,
            merchant_id,
            ledger.EarnCommand(
                customer_id, EarnAction.SIGNUP, f"customer:{person.shopify_id}:signup"
            ),
            now=now,
        )
        await ledger.earn(
            session,
            merchant_id,
            ledger.EarnCommand(
                customer_id,
                EarnAction.PURCHASE,
                f"order:{order_id}",
                Order(
                    order_id=order_id,
                    currency="USD",
                    lines=(OrderLine(f"{order_id}-1", 2, Decimal("80.00")),),
                    channel=Channel.ONLINE,
                    placed_at=now,
                ),
            ),
            now=now,
        )
        # Staff free text quoting the customer, with an idempotency key that does too.
        await ledger.adjust(
            session,
            merchant_id,
            ledger.AdjustCommand(
                customer_id,
                500,
                f"goodwill for {person.name} <{person.email}>, call {person.dashed_phone}",
                f"goodwill:{person.email}",
                actor_id="staff-1",
            ),
            now=now,
        )
        reward = await create_reward(
            session,
            merchant_id,
            RewardTerms(
                kind=RewardKind.FIXED_AMOUNT, title="$5 off", points_cost=100, value=Decimal("5.00")
            ),
        )
        reminders = ReminderRepository(session, merchant_id)
        (queued,) = await reminders.queue(
            [DueReminder(customer_id, date.today() + timedelta(days=20), 300)],
            channel="klaviyo",
            now=now,
        )
        await reminders.mark(
            queued.id, status="failed", error=f"Klaviyo refused {person.email}", now=now
        )
        link = await create_referral_link(session, merchant_id, customer_id)
        await insert_audit_log(
            session,
            merchant_id=merchant_id,
            action="support_note",
            actor_id="staff-1",
            metadata={"customer_id": customer_id, "note": f"{person.name} called"},
        )
        # About the customer only by their contact details.
        await insert_audit_log(
            session,
            merchant_id=merchant_id,
            action="newsletter_bounce",
            metadata={"recipient": person.email.upper(), "sms": f"({person.dashed_phone})"},
        )
    outcome = await redeem_reward(
        resources,
        ShopifyConnector.for_process(resources),
        merchant_id,
        RedeemCommand(customer_id, reward.id, f"widget:{new_id()}"),
    )
    assert outcome.error is None
    assert outcome.redemption.sandbox
    code = resources.cipher.decrypt(outcome.redemption.code_encrypted, context=REDEMPTION_CODE)

    order_topic = "orders/paid"
    pending = await receive(
        resources, tenant, order_topic, person.order_payload(order_id), person.shopify_id
    )
    failed = await receive(
        resources, tenant, order_topic, person.order_payload("77"), person.shopify_id
    )
    done = await receive(
        resources, tenant, "customers/update", person.shopify_customer(), person.shopify_id
    )
    guest = await receive(
        resources, tenant, order_topic, person.order_payload("78", with_customer=False), None
    )
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        await inbox.record_failure(
            session,
            failed,
            error=f"PayloadError: cannot read {person.email}",
            retry_in_seconds=None,
        )
        row = await inbox.claim_pending(session, done)
        assert row is not None
        await inbox.mark_done(session, row, duration_ms=1)
    return Story(
        person=person,
        customer_id=customer_id,
        order_id=order_id,
        code=code,
        referral_code=link.link.code,
        pending_delivery=pending,
        failed_delivery=failed,
        done_delivery=done,
        guest_delivery=guest,
    )


# --- reads -----------------------------------------------------------------------------------


async def ledger_rows(
    resources: Resources, tenant: Tenant, customer_id: str
) -> list[tuple[str, str, int, datetime, str | None]]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.execute(
            select(
                PointsTransaction.id,
                PointsTransaction.kind,
                PointsTransaction.points,
                PointsTransaction.created_at,
                PointsTransaction.order_id,
            )
            .where(
                PointsTransaction.merchant_id == tenant.merchant_id,
                PointsTransaction.customer_id == customer_id,
            )
            .order_by(PointsTransaction.created_at, PointsTransaction.id)
        )
        return [(r.id, r.kind, r.points, r.created_at, r.order_id) for r in rows]


async def customer_row(resources: Resources, tenant: Tenant, customer_id: str) -> Customer:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        result = await session.scalars(
            select(Customer).where(
                Customer.merchant_id == tenant.merchant_id, Customer.id == customer_id
            )
        )
        return result.one()


async def everything_of(resources: Resources, tenant: Tenant, customer_id: str) -> list[Any]:
    """A customer's rows in full, for "untouched" comparisons."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        customer = (
            await session.execute(
                select(Customer.__table__).where(
                    Customer.merchant_id == tenant.merchant_id, Customer.id == customer_id
                )
            )
        ).all()
        entries = (
            await session.execute(
                select(PointsTransaction.__table__)
                .where(
                    PointsTransaction.merchant_id == tenant.merchant_id,
                    PointsTransaction.customer_id == customer_id,
                )
                .order_by(PointsTransaction.id)
            )
        ).all()
    return [list(customer), list(entries)]


async def deliveries(resources: Resources, tenant: Tenant) -> dict[str, ApiLog]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalars(select(ApiLog).where(ApiLog.merchant_id == tenant.merchant_id))
        return {row.id: row for row in rows}


async def requests(resources: Resources, tenant: Tenant) -> dict[str, GdprRequest]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalars(
            select(GdprRequest).where(GdprRequest.merchant_id == tenant.merchant_id)
        )
        return {row.id: row for row in rows}


async def read_export(resources: Resources, tenant: Tenant, request_id: str) -> Any:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await gdpr.read_export(session, resources.cipher, request_id)


def places(hits: list[Any]) -> set[tuple[str, str]]:
    return {(hit.table, hit.column) for hit in hits}


# --- customers/data_request ------------------------------------------------------------------


async def test_a_data_request_exports_everything_held_about_the_customer(
    resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    story = await tell_story(resources, tenant, person)
    held_ledger = await ledger_rows(resources, tenant, story.customer_id)

    request = await request_data(resources, tenant, person)

    assert (request.request_type, request.status) == ("data_request", "completed")
    assert request.customer_id == story.customer_id
    assert request.shopify_customer_id == person.shopify_id
    assert request.completed_at is not None
    assert request.retention_expires_at - request.completed_at == timedelta(days=90)
    export = await read_export(resources, tenant, request.id)
    assert export is not None
    assert export["data_held"] is True
    (profile,) = export["customers"]
    assert (profile["email"], profile["phone"]) == (person.email, person.phone)
    assert (profile["country_code"], profile["locale"]) == ("GB", "en")
    assert profile["points_balance"] == sum(points for _, _, points, _, _ in held_ledger)
    assert [
        (entry["id"], entry["kind"], entry["points"]) for entry in profile["points_ledger"]
    ] == [(row_id, kind, points) for row_id, kind, points, _, _ in held_ledger]
    goodwill = next(entry for entry in profile["points_ledger"] if entry["kind"] == "adjust")
    assert person.email in goodwill["reason"]
    assert goodwill["explanation"]["trace"][0]["rule"] == "manual_adjustment"
    (redemption,) = profile["reward_redemptions"]
    assert (redemption["code"], redemption["reward_title"]) == (story.code, "$5 off")
    assert [reminder["channel"] for reminder in profile["expiry_reminders"]] == ["klaviyo"]
    assert [link["code"] for link in profile["referral_links"]] == [story.referral_code]
    actions = {entry["action"] for entry in export["audit_log"]}
    assert {"support_note", "newsletter_bounce", "points_adjusted", "referral_created"} <= actions
    assert {delivery["id"] for delivery in export["webhook_deliveries"]} == {
        story.pending_delivery,
        story.failed_delivery,
        story.done_delivery,
    }
    assert export["request"]["orders_requested"] == ["299938"]
    json.dumps(export)  # JSON all the way down

    # The audit trail says whom the request was for, not who they are.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        (metadata,) = await session.scalars(
            select(AuditLog.metadata_).where(
                AuditLog.merchant_id == tenant.merchant_id, AuditLog.action == "gdpr_data_request"
            )
        )
    assert metadata["request_id"] == request.id
    assert metadata["customer_ids"] == [story.customer_id]
    text = json.dumps(metadata).lower()
    assert not [needle for needle in [*person.needles, story.code] if needle.lower() in text]


async def test_a_data_request_about_an_unknown_customer_says_nothing_is_held(
    resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, points=10)
    stranger = Person.new()

    request = await request_data(resources, tenant, stranger)

    assert (request.status, request.customer_id) == ("completed", None)
    export = await read_export(resources, tenant, request.id)
    assert export["data_held"] is False
    assert export["customers"] == []
    assert export["audit_log"] == []
    assert export["webhook_deliveries"] == []
    assert "no data" in export["summary"]


# --- customers/redact --------------------------------------------------------------------------


async def test_redacting_a_customer_leaves_none_of_their_data_in_any_table(
    resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    story = await tell_story(resources, tenant, person)
    other = await add_customer(resources, tenant, points=250)
    other_before = await everything_of(resources, tenant, other)
    earlier = await request_data(resources, tenant, person)
    unrelated = await receive(
        resources, tenant, "orders/paid", Person.new().order_payload("79"), "4242"
    )
    ledger_before = await ledger_rows(resources, tenant, story.customer_id)
    balance_before = (await customer_row(resources, tenant, story.customer_id)).points_balance
    needles = [*person.needles, story.code, story.referral_code]

    # The scan sees the customer everywhere the story put them: a clean scan afterwards
    # means something.
    before = await find_pii(resources, tenant.merchant_id, needles)
    assert places(before) >= {
        ("customers", "email_encrypted"),
        ("customers", "phone_encrypted"),
        ("customers", "shopify_customer_id"),
        ("points_transactions", "reason"),
        ("points_transactions", "explanation"),
        ("points_transactions", "idempotency_key"),
        ("reward_redemptions", "code_encrypted"),
        ("expiry_reminders", "error"),
        ("referral_links", "code"),
        ("audit_logs", "metadata"),
        ("api_logs", "payload_encrypted"),
        ("api_logs", "last_error"),
        ("api_logs", "shopify_customer_id"),
        ("gdpr_requests", "export_encrypted"),
        ("gdpr_requests", "shopify_customer_id"),
    }

    request = await redact(resources, tenant, person, [story.order_id])

    assert await find_pii(resources, tenant.merchant_id, needles) == []
    # The accounting is intact: the same entries, amounts, kinds, dates and orders.
    assert await ledger_rows(resources, tenant, story.customer_id) == ledger_before
    customer = await customer_row(resources, tenant, story.customer_id)
    assert customer.points_balance == balance_before == sum(p for _, _, p, _, _ in ledger_before)
    assert (customer.shopify_customer_id, customer.phone_encrypted, customer.country_code) == (
        None,
        None,
        None,
    )
    assert resources.cipher.decrypt(customer.email_encrypted, context="customers.email") == (
        gdpr.REDACTED_EMAIL
    )
    assert await everything_of(resources, tenant, other) == other_before

    inbox_rows = await deliveries(resources, tenant)
    for delivery in (story.pending_delivery, story.failed_delivery, story.guest_delivery):
        row = inbox_rows[delivery]
        assert (row.status, row.last_error, row.payload_encrypted) == ("failed", "redacted", None)
    assert inbox_rows[story.done_delivery].status == "done"
    assert inbox_rows[unrelated].status == "pending"
    assert inbox_rows[unrelated].payload_encrypted is not None
    assert request.delivery_id is not None
    assert inbox_rows[request.delivery_id].status == "done"

    assert await read_export(resources, tenant, earlier.id) is None
    recorded = (await requests(resources, tenant))[request.id]
    assert (recorded.request_type, recorded.status) == ("customer_redact", "completed")
    assert (recorded.customer_id, recorded.shopify_customer_id) == (story.customer_id, None)

    # Twice is fine: nothing is left to find, and the record says so.
    again = await redact(resources, tenant, person, [story.order_id])
    assert (again.status, again.customer_id) == ("completed", None)
    assert await find_pii(resources, tenant.merchant_id, needles) == []

    # The redacted record still works as a ledger: a later refund of the order is reversed
    # from the per-line figures its explanation kept.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        reversal = await reverse_order(
            session,
            tenant.merchant_id,
            ReverseCommand(story.order_id, f"refund:{story.order_id}"),
            now=datetime.now(UTC),
        )
    earned = next(p for _, kind, p, _, order in ledger_before if order == story.order_id)
    assert reversal.transaction.points == -earned
    # And the email is free for whoever owns it now.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await register_customer(session, tenant.merchant_id, resources.cipher, email=person.email)


async def test_a_customer_known_only_by_email_is_found_and_redacted(
    resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    customer_id = await add_customer(resources, tenant, email=person.email, points=40)

    request = await redact(resources, tenant, person, [])

    assert request.customer_id == customer_id
    assert await find_pii(resources, tenant.merchant_id, person.needles) == []
    assert (await customer_row(resources, tenant, customer_id)).points_balance == 40


# --- shop/redact -----------------------------------------------------------------------------


async def test_shop_redact_leaves_no_row_of_the_shop_but_the_delivery(
    resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    person = Person.new()
    await tell_story(resources, tenant, person)
    await request_data(resources, tenant, person)
    await tell_story(resources, other_tenant, Person.new())
    other_before = await rows_of_merchant(resources, other_tenant.merchant_id)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await record_uninstall(session, tenant.merchant_id, now=datetime.now(UTC))
    payload = {"shop_id": 1, "shop_domain": tenant.shop_domain}
    delivery = await receive(resources, tenant, "shop/redact", payload, None)

    await process(resources, tenant, delivery, shop_redact)

    assert await rows_of_merchant(resources, tenant.merchant_id) == {"api_logs": 1}
    (row,) = (await deliveries(resources, tenant)).values()
    assert (row.id, row.status, row.payload_encrypted) == (delivery, "done", None)
    assert await find_pii(resources, tenant.merchant_id, person.needles) == []
    assert await rows_of_merchant(resources, other_tenant.merchant_id) == other_before


async def test_shop_redact_refuses_a_shop_that_is_installed_or_another_shop(
    resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, points=10)
    before = await rows_of_merchant(resources, tenant.merchant_id)

    with pytest.raises(gdpr.ShopStillInstalledError):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await gdpr.handle_shop_redact(
                session,
                tenant.merchant_id,
                {"shop_id": 1, "shop_domain": tenant.shop_domain},
                delivery_id=new_id(),
                now=datetime.now(UTC),
            )
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await record_uninstall(session, tenant.merchant_id, now=datetime.now(UTC))
    with pytest.raises(gdpr.GdprPayloadError, match="shop_domain"):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await gdpr.handle_shop_redact(
                session,
                tenant.merchant_id,
                {"shop_id": 1, "shop_domain": "someone-else.myshopify.com"},
                delivery_id=new_id(),
                now=datetime.now(UTC),
            )

    after = await rows_of_merchant(resources, tenant.merchant_id)
    assert after["customers"] == before["customers"] == 1


# --- payloads ----------------------------------------------------------------------------------


async def test_malformed_payloads_are_refused_without_quoting_them(
    resources: Resources, tenant: Tenant
) -> None:
    secret = "jane.private@example.com"
    customer = {"id": 5, "email": secret}
    cases: list[tuple[Handler, dict[str, Any], str]] = [
        (data_request(resources), {"customer": customer}, "shop_domain"),
        (data_request(resources), {"shop_domain": tenant.shop_domain}, "customer"),
        (
            customer_redact(resources),
            {"shop_domain": tenant.shop_domain, "customer": {"id": secret}},
            "customer.id",
        ),
        (
            customer_redact(resources),
            {"shop_domain": tenant.shop_domain, "customer": {"phone": secret}},
            "customer",
        ),
        (
            customer_redact(resources),
            {"shop_domain": tenant.shop_domain, "customer": customer, "orders_to_redact": [secret]},
            "orders_to_redact.0",
        ),
        (shop_redact, {"shop_id": 1, "shop_domain": ""}, "shop_domain"),
    ]
    for handler, payload, field in cases:
        with pytest.raises(gdpr.GdprPayloadError) as raised:
            async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
                await handler(session, tenant.merchant_id, payload, new_id(), datetime.now(UTC))
        assert field in str(raised.value)
        assert secret not in str(raised.value)
        assert isinstance(raised.value, ValueError)


async def test_the_scan_reports_what_it_cannot_decrypt(
    resources: Resources, tenant: Tenant
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await insert_audit_log(
            session,
            merchant_id=tenant.merchant_id,
            action="test_blob",
            metadata={"blob": resources.cipher.encrypt("x", context="nobody.knows")},
        )

    hits = await find_pii(resources, tenant.merchant_id, ["never-there"])

    assert [(hit.table, hit.snippet) for hit in hits] == [("audit_logs", UNREADABLE)]
