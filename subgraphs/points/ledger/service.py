"""Ledger operations: earn, adjust, redeem and credit back, each one transaction of the
caller's through the write path (``ledger.write_path``). Order reversals live in
``orders.reversal``, expiry in ``expiry.service``; they record through the same path."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Customer, PointsTransaction, PointsTransactionKind
from subgraphs.points.customers.repository import CustomerChange
from subgraphs.points.customers.service import customer_facts
from subgraphs.points.errors import PointsError, PointsErrorCode, check_text
from subgraphs.points.ledger.calculation_inputs import calculation_inputs, running_campaigns
from subgraphs.points.ledger.write_path import (
    MAX_REASON_LENGTH,
    LedgerDraft,
    LedgerEntry,
    LedgerWriter,
    applied,
    check_key,
    check_points,
    credit_expiry,
    same_entry,
    trace,
)
from subgraphs.points.program.calculation import (
    Calculation,
    EarnAction,
    Order,
    calculate,
)

__all__ = [
    "AdjustCommand",
    "EarnCommand",
    "LedgerEntry",
    "PointsMovement",
    "adjust",
    "credit_back",
    "earn",
    "preview_earn",
    "redeem",
]


@dataclass(frozen=True, slots=True)
class EarnCommand:
    customer_id: str
    action: EarnAction
    idempotency_key: str
    order: Order | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PointsChange:
    """A change of a customer's points by hand or by a redemption: how many, why, and the
    key that makes it happen once."""

    customer_id: str
    points: int
    reason: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class AdjustCommand(PointsChange):
    """A staff correction (``adjust``), signed."""

    actor_id: str | None = None


@dataclass(frozen=True, slots=True)
class PointsMovement(PointsChange):
    """Points a redemption spends (``redeem``), or returns when its reward could not be
    fulfilled (``credit_back``)."""

    source: str
    explanation: dict[str, Any] = field(default_factory=dict)


def _check_reason(reason: str) -> None:
    check_text(reason, "reason", PointsErrorCode.INVALID_REASON, MAX_REASON_LENGTH)


async def preview_earn(
    session: AsyncSession,
    merchant_id: str,
    *,
    customer: Customer,
    action: EarnAction,
    order: Order | None,
    at: datetime,
) -> Calculation:
    """What ``earn`` would award now, without writing anything."""
    inputs = await calculation_inputs(session, merchant_id)
    campaigns = await running_campaigns(session, merchant_id, inputs, at)
    return calculate(
        inputs.config,
        campaigns,
        action=action,
        customer=customer_facts(customer),
        order=order,
        at=at,
    )


async def earn(
    session: AsyncSession,
    merchant_id: str,
    command: EarnCommand,
    *,
    now: datetime,
) -> LedgerEntry:
    """Award ``command`` once per idempotency key."""
    check_key(command.idempotency_key)
    if command.reason is not None:
        _check_reason(command.reason)
    order = command.order
    order_id = order.order_id if order else None

    def matches(existing: PointsTransaction) -> bool:
        return (
            existing.kind == PointsTransactionKind.EARN
            and existing.order_id == order_id
            and (existing.source == command.action.value)
        )

    writer = LedgerWriter(session, merchant_id)

    async def decide(customer: Customer) -> LedgerDraft:
        inputs = await writer.inputs()
        settings = inputs.config
        campaigns = await running_campaigns(session, merchant_id, inputs, now)
        facts = customer_facts(customer)
        result = calculate(
            settings, campaigns, action=command.action, customer=facts, order=order, at=now
        )
        change = CustomerChange(
            earned=result.points,
            spent=result.base_amount if order else Decimal(0),
            orders=1 if order else 0,
            first_order_at=order.placed_at if order else None,
            activity_at=now,
        )
        reason = command.reason or (
            f"order {order.order_id}" if order else command.action.value.replace("_", " ")
        )
        return LedgerDraft(
            kind=PointsTransactionKind.EARN,
            points=result.points,
            reason=reason,
            idempotency_key=command.idempotency_key,
            source=command.action.value,
            explanation=result.to_explanation(),
            change=change,
            order_id=order_id,
            currency=result.currency,
            expires_at=credit_expiry(settings, now),
        )

    return await writer.write(command.customer_id, command.idempotency_key, matches, decide)


async def adjust(
    session: AsyncSession, merchant_id: str, command: AdjustCommand, *, now: datetime
) -> LedgerEntry:
    """A staff correction, positive or negative; never takes the balance below zero."""
    check_key(command.idempotency_key)
    check_points(command.points, allow_negative=True)
    _check_reason(command.reason)
    writer = LedgerWriter(session, merchant_id)

    async def decide(customer: Customer) -> LedgerDraft:
        if command.points < 0 and -command.points > customer.points_balance:
            raise PointsError(
                PointsErrorCode.INSUFFICIENT_POINTS,
                "points",
                f"the balance is {customer.points_balance}; it cannot go below zero",
            )
        config = (await writer.inputs()).config
        detail = f"{command.points:+d} by {command.actor_id or 'the merchant'}: {command.reason}"
        return LedgerDraft(
            kind=PointsTransactionKind.ADJUST,
            points=command.points,
            reason=command.reason,
            idempotency_key=command.idempotency_key,
            source="staff",
            explanation=trace(applied("manual_adjustment", detail, command.points)),
            change=CustomerChange(earned=max(command.points, 0), activity_at=now),
            expires_at=credit_expiry(config, now),
            actor_id=command.actor_id,
        )

    matches = same_entry(PointsTransactionKind.ADJUST, command.points)
    return await writer.write(command.customer_id, command.idempotency_key, matches, decide)


def _movement(
    command: PointsMovement,
    kind: PointsTransactionKind,
    points: int,
    change: CustomerChange,
    expires_at: datetime | None = None,
) -> LedgerDraft:
    return LedgerDraft(
        kind=kind,
        points=points,
        reason=command.reason,
        idempotency_key=command.idempotency_key,
        source=command.source,
        explanation=command.explanation,
        change=change,
        expires_at=expires_at,
    )


async def redeem(
    session: AsyncSession, merchant_id: str, command: PointsMovement, *, now: datetime
) -> LedgerEntry:
    """Spend ``command.points`` (at most the balance)."""
    check_key(command.idempotency_key)
    check_points(command.points)

    async def debit(customer: Customer) -> LedgerDraft:
        if command.points > customer.points_balance:
            raise PointsError(
                PointsErrorCode.INSUFFICIENT_POINTS,
                "points",
                f"needs {command.points} points; the balance is {customer.points_balance}",
            )
        change = CustomerChange(activity_at=now)
        return _movement(command, PointsTransactionKind.REDEEM, -command.points, change)

    matches = same_entry(PointsTransactionKind.REDEEM, -command.points)
    writer = LedgerWriter(session, merchant_id)
    return await writer.write(command.customer_id, command.idempotency_key, matches, debit)


async def credit_back(
    session: AsyncSession, merchant_id: str, command: PointsMovement, *, now: datetime
) -> LedgerEntry:
    """Return ``command.points`` taken by a redemption that could not be fulfilled: a credit
    like any other, expiring under the program's policy."""
    check_key(command.idempotency_key)
    check_points(command.points)
    writer = LedgerWriter(session, merchant_id)

    async def credit(customer: Customer) -> LedgerDraft:
        expires_at = credit_expiry((await writer.inputs()).config, now)
        change = CustomerChange()
        return _movement(command, PointsTransactionKind.REFUND, command.points, change, expires_at)

    matches = same_entry(PointsTransactionKind.REFUND, command.points)
    return await writer.write(command.customer_id, command.idempotency_key, matches, credit)


async def credit_referral(
    session: AsyncSession, merchant_id: str, command: PointsChange, *, now: datetime
) -> LedgerEntry:
    """A referral reward (the referrals program's, carried here by a worker job under the key
    ``referral:{referral_id}:{side}``): earned points like any other, so they count towards
    tiers and expire under the program's policy. Once per key."""
    check_key(command.idempotency_key)
    check_points(command.points)
    _check_reason(command.reason)
    writer = LedgerWriter(session, merchant_id)

    async def credit(customer: Customer) -> LedgerDraft:
        expires_at = credit_expiry((await writer.inputs()).config, now)
        return LedgerDraft(
            kind=PointsTransactionKind.REFERRAL,
            points=command.points,
            reason=command.reason,
            idempotency_key=command.idempotency_key,
            source="referral",
            explanation=trace(applied("referral", command.reason, command.points)),
            change=CustomerChange(earned=command.points, activity_at=now),
            expires_at=expires_at,
        )

    matches = same_entry(PointsTransactionKind.REFERRAL, command.points)
    return await writer.write(command.customer_id, command.idempotency_key, matches, credit)
