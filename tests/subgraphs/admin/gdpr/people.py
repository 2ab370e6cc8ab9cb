"""A customer with a whole story in the shop, made by the real services (registration,
ledger, sandbox redemption, reminders, referral link, audit log, webhook inbox): what the GDPR
tests export and erase."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update

from db.encryption_contexts import CUSTOMERS_PHONE, REWARD_REDEMPTIONS_CODE
from db.ids import new_id
from db.models import Customer, GdprRequest, RewardKind
from db.session import tenant_unit_of_work
from subgraphs.admin.deliveries.repository import WebhookDeliveriesRepository
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.repository import insert_audit_log
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.consents.service import (
    ConsentChange,
    ConsentSource,
    ConsentStatus,
    ConsentType,
    update_consents,
)
from subgraphs.points.customers.service import register_customer
from subgraphs.points.expiry.repository import DueReminder, ReminderRepository
from subgraphs.points.ledger import service as ledger
from subgraphs.points.notifications.repository import DeliveryRepository, NewDelivery
from subgraphs.points.program.calculation import EarnAction, Order, OrderLine
from subgraphs.points.program.service import Channel
from subgraphs.points.rewards.redemption import RedeemCommand, redeem_reward
from subgraphs.points.rewards.service import RewardTerms, create_reward
from subgraphs.points.shopify import ShopifyConnector
from subgraphs.referrals.program.service import ShareChannel
from subgraphs.referrals.service import create_referral_link
from subgraphs.referrals.shares.service import ShareRequest, share_link
from tests.conftest import Tenant
from tests.subgraphs.admin.gdpr.runs import (
    customer_redact,
    data_request,
    process,
    receive,
    request_row,
    run_gdpr_jobs,
)

# The friend a story's customer shares their link with.
SHARED_WITH = "friend.of.the.story@example.net"


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


# --- requests about the person --------------------------------------------------------------


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
    accepted: GdprRequest = await process(resources, tenant, delivery, data_request(resources))
    assert accepted.status == "pending"
    await run_gdpr_jobs(resources, tenant.merchant_id)
    return await request_row(resources, tenant, accepted.id)


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
    await run_gdpr_jobs(resources, tenant.merchant_id)
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
            .values(phone_encrypted=resources.cipher.encrypt(person.phone, context=CUSTOMERS_PHONE))
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
            WriteContext(session, merchant_id),
            RewardTerms(
                kind=RewardKind.FIXED_AMOUNT, title="$5 off", points_cost=100, value=Decimal("5.00")
            ),
            idempotency_key=f"test:reward:{new_id()}",
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
        # A share: someone else's address the customer gave us, and a body quoting the link.
        await share_link(
            session,
            merchant_id,
            customer_id,
            ShareRequest(ShareChannel.EMAIL, SHARED_WITH, "en", None),
            cipher=resources.cipher,
            link_url_template=resources.settings.storefront_url_template,
            shop_domain=tenant.shop_domain,
            limit=10,
            now=now,
        )
        await update_consents(
            WriteContext(session, merchant_id, now=now),
            resources.cipher,
            customer_id,
            [ConsentChange(ConsentType.NEWSLETTER, ConsentStatus.GRANTED)],
            source=ConsentSource.WIDGET,
            text_version="2026-01",
            ip="203.0.113.7",
        )
        await DeliveryRepository(session, merchant_id).record(
            NewDelivery(
                message_type="points_earned",
                event_id=f"order:{order_id}",
                customer_id=customer_id,
                provider="klaviyo",
                locale="en",
                status="sent",
                reason=None,
                at=now,
            )
        )
        await insert_audit_log(
            session,
            merchant_id=merchant_id,
            action=AuditAction.TIER_ASSIGNED,
            actor_id="staff-1",
            metadata={"customer_id": customer_id, "note": f"{person.name} called"},
        )
        # About the customer only by their contact details.
        await insert_audit_log(
            session,
            merchant_id=merchant_id,
            action=AuditAction.EXPIRY_NOTIFICATION_FAILED,
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
    code = resources.cipher.decrypt(
        outcome.redemption.code_encrypted, context=REWARD_REDEMPTIONS_CODE
    )

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
        deliveries = WebhookDeliveriesRepository(session, merchant_id)
        await deliveries.record_failure(
            failed,
            error=f"PayloadError: cannot read {person.email}",
            retry_in_seconds=None,
        )
        row = await deliveries.claim_pending(done)
        assert row is not None
        await deliveries.mark_done(row, duration_ms=1)
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
