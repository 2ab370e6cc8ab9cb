"""What Shopify's order and customer events do to the points program.

Each function is the effect of one business event, idempotent by its business key (an order
earns under ``order:{id}:earn`` whichever webhook, job or reconciliation gets there first; a
refund reverses under ``refund:{id}``), so a redelivered or reconciled event changes nothing
twice. They run inside the caller's transaction and never commit.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import CUSTOMERS_EMAIL, CUSTOMERS_PHONE
from subgraphs.kit.auth_repository import (
    customer_id_for_shopify_customer,
    remember_shopify_customer,
)
from subgraphs.points.customers.repository import CustomerRepository
from subgraphs.points.customers.service import email_index, normalize_email, register_customer
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.ledger.calculation_inputs import calculation_inputs
from subgraphs.points.ledger.service import EarnCommand, LedgerEntry, earn
from subgraphs.points.orders.reversal import ReverseCommand, reverse_order
from subgraphs.points.orders.shopify_payloads import (
    PayloadError,
    ShopifyCustomer,
    ShopifyOrderPayload,
    ShopifyRefundPayload,
    parse,
)
from subgraphs.points.program.calculation import EarnAction, Order
from subgraphs.points.program.service import AwardOn

_SUPPORTED_LOCALES = frozenset({"en", "es", "fr", "ar", "he"})


class OrderTrigger(enum.Enum):
    CREATED = "orders/create"
    PAID = "orders/paid"
    RECONCILED = "reconciliation"


class Outcome(enum.Enum):
    """What an event did; the worker records it and tells live dashboards."""

    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class EventResult:
    outcome: Outcome
    detail: str
    ledger_changed: bool = False

    @classmethod
    def of_entry(cls, entry: LedgerEntry, *, applied: str, replayed: str) -> EventResult:
        """APPLIED when the event changed the ledger; ALREADY_APPLIED for a replay of it."""
        if entry.replayed:
            return cls(Outcome.ALREADY_APPLIED, replayed)
        return cls(Outcome.APPLIED, applied, ledger_changed=True)


class OrderNotEarnedYetError(Exception):
    """A refund or cancellation arrived before the order's award: retry it later."""


def earn_key(order_id: str) -> str:
    return f"order:{order_id}:earn"


def _payload_email(email: str) -> str:
    """The email of a Shopify payload, normalized; a malformed one fails the delivery."""
    try:
        return normalize_email(email)
    except PointsError as exc:
        raise PayloadError(f"customer email: {exc.message}") from exc


def _locale(value: str | None) -> str:
    language = (value or "en").split("-")[0].lower()
    language = {"iw": "he"}.get(language, language)
    return language if language in _SUPPORTED_LOCALES else "en"


async def _find_or_enrol(
    session: AsyncSession,
    merchant_id: str,
    cipher: FieldCipher,
    *,
    shopify_customer: ShopifyCustomer | None,
    email: str | None,
) -> str | None:
    """The id of the customer an event is about: by Shopify id, else by email (a guest who bought
    before having an account is claimed here), else enrolled. None when nothing identifies
    one (an anonymous POS sale)."""
    repository = CustomerRepository(session, merchant_id)
    if shopify_customer is not None:
        # Remembered for the transaction: the delivery's referral and analytics steps ask too.
        found_id = await customer_id_for_shopify_customer(session, merchant_id, shopify_customer.id)
        if found_id is not None:
            return found_id
    if not email:
        return None
    normalized = _payload_email(email)
    by_email = await repository.by_email_index(email_index(normalized, cipher))
    if by_email is not None:
        if (
            shopify_customer is not None
            and by_email.shopify_customer_id is None
            and await repository.claim(by_email.id, shopify_customer.id)
        ):
            remember_shopify_customer(session, merchant_id, shopify_customer.id, by_email.id)
        return by_email.id
    try:
        enrolled = await register_customer(
            session,
            merchant_id,
            cipher,
            email=normalized,
            shopify_customer_id=shopify_customer.id if shopify_customer else None,
            locale=_locale(shopify_customer.locale if shopify_customer else None),
            country_code=shopify_customer.country_code if shopify_customer else None,
        )
    except PointsError as exc:
        if exc.code is not PointsErrorCode.EMAIL_TAKEN:
            raise
    else:
        if shopify_customer is not None:
            remember_shopify_customer(session, merchant_id, shopify_customer.id, enrolled)
        return enrolled
    # Enrolled by a concurrent delivery of the same customer (Shopify resends, and sends
    # customers/create and orders/create together): theirs is the one.
    if shopify_customer is not None:
        found_id = await customer_id_for_shopify_customer(session, merchant_id, shopify_customer.id)
        if found_id is not None:
            return found_id
    concurrent = await repository.by_email_index(email_index(normalized, cipher))
    if concurrent is None:
        raise RuntimeError("a customer conflicted on enrolment and cannot be found")
    return concurrent.id


def _should_award(trigger: OrderTrigger, award_on: AwardOn, order: ShopifyOrderPayload) -> bool:
    if order.cancelled_at is not None:
        return False
    if trigger is OrderTrigger.CREATED:
        # Paid-at-creation orders (POS, most online checkouts) earn now under either setting;
        # orders/paid then finds the award made.
        return award_on is AwardOn.ORDER_CREATED or order.is_paid
    # orders/paid and reconciliation: the award "whichever comes first" — with ORDER_CREATED
    # this covers an orders/create that never arrived.
    return award_on is AwardOn.ORDER_CREATED or order.is_paid or trigger is OrderTrigger.PAID


async def award_order(
    session: AsyncSession,
    merchant_id: str,
    cipher: FieldCipher,
    order: ShopifyOrderPayload,
    *,
    trigger: OrderTrigger,
    now: datetime,
) -> EventResult:
    config = (await calculation_inputs(session, merchant_id)).config
    if not _should_award(trigger, config.award_on, order):
        return EventResult(
            Outcome.NOT_APPLICABLE,
            f"order {order.id}: not awarded on {trigger.value} "
            f"(award on {config.award_on.value}, financial status {order.financial_status}, "
            f"cancelled {order.cancelled_at is not None})",
        )
    customer_id = await _find_or_enrol(
        session, merchant_id, cipher, shopify_customer=order.customer, email=order.buyer_email
    )
    if customer_id is None:
        return EventResult(
            Outcome.NOT_APPLICABLE, f"order {order.id}: no customer or email to award"
        )
    return await _earn_order(
        session,
        merchant_id,
        customer_id,
        order.to_order(),
        trigger=trigger.value,
        now=now,
    )


async def award_reconciled_order(
    session: AsyncSession,
    merchant_id: str,
    cipher: FieldCipher,
    order: Order,
    *,
    shopify_customer_id: str | None,
    email: str | None,
    paid: bool,
    now: datetime,
) -> EventResult:
    """An order read back from the Admin API that no webhook delivered."""
    config = (await calculation_inputs(session, merchant_id)).config
    if config.award_on is AwardOn.ORDER_PAID and not paid:
        return EventResult(Outcome.NOT_APPLICABLE, f"order {order.order_id}: not paid yet")
    customer_id = await _find_or_enrol(
        session,
        merchant_id,
        cipher,
        shopify_customer=ShopifyCustomer(id=shopify_customer_id) if shopify_customer_id else None,
        email=email,
    )
    if customer_id is None:
        return EventResult(Outcome.NOT_APPLICABLE, f"order {order.order_id}: no customer")
    return await _earn_order(
        session,
        merchant_id,
        customer_id,
        order,
        trigger=OrderTrigger.RECONCILED.value,
        now=now,
    )


async def _earn_order(
    session: AsyncSession,
    merchant_id: str,
    customer_id: str,
    order: Order,
    *,
    trigger: str,
    now: datetime,
) -> EventResult:
    """The one award of an order, under the key every path shares."""
    command = EarnCommand(
        customer_id=customer_id,
        action=EarnAction.PURCHASE,
        idempotency_key=earn_key(order.order_id),
        order=order,
        reason=f"order {order.order_id} ({trigger})",
    )
    try:
        entry = await earn(session, merchant_id, command, now=now)
    except PointsError as exc:
        if exc.code is PointsErrorCode.ORDER_ALREADY_EARNED:
            return EventResult(Outcome.ALREADY_APPLIED, exc.message)
        raise
    return EventResult.of_entry(
        entry,
        applied=f"order {order.order_id}: {entry.transaction.points} points ({trigger})",
        replayed=f"order {order.order_id} had earned already",
    )


async def _reverse(
    session: AsyncSession, merchant_id: str, command: ReverseCommand, *, now: datetime
) -> EventResult:
    try:
        entry = await reverse_order(session, merchant_id, command, now=now)
    except PointsError as exc:
        if exc.code is PointsErrorCode.ORDER_NOT_EARNED:
            raise OrderNotEarnedYetError(exc.message) from exc
        raise
    return EventResult.of_entry(
        entry,
        applied=f"order {command.order_id}: {entry.transaction.points} points",
        replayed=f"{command.idempotency_key} was applied",
    )


async def cancel_order(
    session: AsyncSession, merchant_id: str, payload: Mapping[str, Any], *, now: datetime
) -> EventResult:
    order = parse(ShopifyOrderPayload, payload)
    config = (await calculation_inputs(session, merchant_id)).config
    command = ReverseCommand(
        order_id=order.id, idempotency_key=f"order:{order.id}:cancel", reason="order cancelled"
    )
    try:
        return await _reverse(session, merchant_id, command, now=now)
    except OrderNotEarnedYetError:
        if config.award_on is AwardOn.ORDER_PAID and not order.is_paid:
            # The usual case: an unpaid order cancelled. It never earned and never will.
            return EventResult(
                Outcome.NOT_APPLICABLE, f"order {order.id} was cancelled before it earned"
            )
        raise


async def refund_order(
    session: AsyncSession, merchant_id: str, payload: Mapping[str, Any], *, now: datetime
) -> EventResult:
    refund = parse(ShopifyRefundPayload, payload)
    lines = refund.refund_lines()
    if not lines:
        return EventResult(
            Outcome.NOT_APPLICABLE,
            f"refund {refund.id}: no line items (shipping or an amount only); points stay",
        )
    command = ReverseCommand(
        order_id=refund.order_id,
        idempotency_key=f"refund:{refund.id}",
        lines=lines,
        reason=f"refund {refund.id}",
    )
    return await _reverse(session, merchant_id, command, now=now)


async def customer_created(
    session: AsyncSession,
    merchant_id: str,
    cipher: FieldCipher,
    payload: Mapping[str, Any],
    *,
    now: datetime,
) -> EventResult:
    shopify_customer = parse(ShopifyCustomer, payload)
    customer_id = await _find_or_enrol(
        session,
        merchant_id,
        cipher,
        shopify_customer=shopify_customer,
        email=shopify_customer.email,
    )
    if customer_id is None:
        return EventResult(
            Outcome.NOT_APPLICABLE, f"customer {shopify_customer.id} has no email to enrol"
        )
    # The phone (SMS reminders), locale and country come with the account, as on updates.
    await customer_updated(session, merchant_id, cipher, payload)
    entry = await earn(
        session,
        merchant_id,
        EarnCommand(
            customer_id=customer_id,
            action=EarnAction.SIGNUP,
            idempotency_key=f"customer:{shopify_customer.id}:signup",
        ),
        now=now,
    )
    return EventResult.of_entry(
        entry,
        applied=f"enrolled; {entry.transaction.points} signup points",
        replayed="signup points were awarded already",
    )


async def customer_updated(
    session: AsyncSession,
    merchant_id: str,
    cipher: FieldCipher,
    payload: Mapping[str, Any],
) -> EventResult:
    """Keep the contact details reminders use in step with Shopify. A customer we have not
    enrolled yet is left to customers/create (or their first order)."""
    shopify_customer = parse(ShopifyCustomer, payload)
    repository = CustomerRepository(session, merchant_id)
    customer = await repository.by_shopify_id(shopify_customer.id)
    if customer is None:
        return EventResult(Outcome.NOT_APPLICABLE, "customer is not enrolled")
    email_encrypted, current_index = customer.email_encrypted, customer.email_blind_index
    if shopify_customer.email:
        normalized = _payload_email(shopify_customer.email)
        new_index = email_index(normalized, cipher)
        if new_index != current_index:
            holder = await repository.by_email_index(new_index)
            if holder is not None and holder.id != customer.id:
                raise PointsError(
                    PointsErrorCode.EMAIL_TAKEN,
                    "email",
                    "another customer of this shop has the new email",
                )
            email_encrypted = cipher.encrypt(normalized, context=CUSTOMERS_EMAIL)
            current_index = new_index
    await repository.update_profile(
        customer.id,
        email_encrypted=email_encrypted,
        email_blind_index=current_index,
        phone_encrypted=(
            cipher.encrypt(shopify_customer.phone, context=CUSTOMERS_PHONE)
            if shopify_customer.phone
            else None
        ),
        locale=_locale(shopify_customer.locale) if shopify_customer.locale else customer.locale,
        country_code=(shopify_customer.country_code or customer.country_code or None),
    )
    return EventResult(Outcome.APPLIED, "contact details updated")
