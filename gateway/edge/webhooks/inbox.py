"""Every SQL statement of the webhook inbox (api_logs + webhook_receipts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApiLog


@dataclass(frozen=True, slots=True)
class NewDelivery:
    merchant_id: str
    id: str
    topic: str
    webhook_id: str
    event_id: str | None
    triggered_at: datetime | None
    api_version: str | None
    payload_encrypted: str
    payload_bytes: int
    shopify_customer_id: str | None


# One statement: the receipt decides whether this webhook id is new; only then is the inbox
# row written. Concurrent copies of one delivery race on the receipt's primary key.
_INSERT_DELIVERY = text(
    """
    WITH receipt AS (
        INSERT INTO webhook_receipts (merchant_id, webhook_id, delivery_id, delivery_created_at)
        VALUES (:merchant_id, :webhook_id, :id, now())
        ON CONFLICT (merchant_id, webhook_id) DO NOTHING
        RETURNING delivery_id
    )
    INSERT INTO api_logs (
        merchant_id, id, created_at, topic, status, webhook_id, event_id, triggered_at,
        api_version, payload_encrypted, payload_bytes, shopify_customer_id
    )
    SELECT :merchant_id, delivery_id, now(), :topic, 'pending', :webhook_id, :event_id,
           :triggered_at, :api_version, :payload_encrypted, :payload_bytes,
           :shopify_customer_id
    FROM receipt
    RETURNING id
    """
)


async def insert_delivery(session: AsyncSession, delivery: NewDelivery) -> bool:
    """True when stored; False when this webhook id was already received."""
    result = await session.execute(
        _INSERT_DELIVERY,
        {
            "merchant_id": delivery.merchant_id,
            "id": delivery.id,
            "topic": delivery.topic,
            "webhook_id": delivery.webhook_id,
            "event_id": delivery.event_id,
            "triggered_at": delivery.triggered_at,
            "api_version": delivery.api_version,
            "payload_encrypted": delivery.payload_encrypted,
            "payload_bytes": delivery.payload_bytes,
            "shopify_customer_id": delivery.shopify_customer_id,
        },
    )
    return result.scalar_one_or_none() is not None


async def claim_pending(session: AsyncSession, delivery_id: str) -> ApiLog | None:
    """Lock a pending delivery for this transaction. None when it is done, failed, or being
    processed by another worker right now (SKIP LOCKED: that worker owns it)."""
    result = await session.scalars(
        select(ApiLog)
        .where(ApiLog.id == delivery_id, ApiLog.status == "pending")
        .with_for_update(skip_locked=True)
    )
    return result.one_or_none()


async def mark_done(session: AsyncSession, row: ApiLog, *, duration_ms: int) -> None:
    """Done in the same transaction as the handler's effects: both commit, or neither.
    The payload goes: a processed delivery needs no copy of the customer's data."""
    await session.execute(
        update(ApiLog)
        .where(
            ApiLog.merchant_id == row.merchant_id,
            ApiLog.id == row.id,
            ApiLog.created_at == row.created_at,
        )
        .values(
            status="done",
            attempts=ApiLog.attempts + 1,
            payload_encrypted=None,
            last_error=None,
            processed_at=text("now()"),
            duration_ms=duration_ms,
        )
    )


async def record_failure(
    session: AsyncSession,
    delivery_id: str,
    *,
    error: str,
    retry_in_seconds: float | None,
    count_attempt: bool = True,
) -> ApiLog | None:
    """After a rolled-back attempt: count it, keep the error, and either schedule the next
    attempt or give up (status failed). None when the row is no longer pending."""
    next_attempt = (
        text("now() + make_interval(secs => :delay)").bindparams(delay=retry_in_seconds)
        if retry_in_seconds is not None
        else text("now()")
    )
    result = await session.scalars(
        update(ApiLog)
        .where(ApiLog.id == delivery_id, ApiLog.status == "pending")
        .values(
            status="pending" if retry_in_seconds is not None else "failed",
            attempts=ApiLog.attempts + (1 if count_attempt else 0),
            last_error=error[:2000],
            next_attempt_at=next_attempt,
        )
        .returning(ApiLog)
    )
    return result.one_or_none()


@dataclass(frozen=True, slots=True)
class DueDelivery:
    merchant_id: str
    id: str
    overdue_seconds: float


async def due_deliveries(
    session: AsyncSession, *, older_than_seconds: float, limit: int
) -> list[DueDelivery]:
    """Pending rows whose time has come and gone by more than ``older_than_seconds``: their
    job was lost (Redis down at enqueue, a worker killed) or is stuck behind a backlog."""
    overdue = func.extract("epoch", func.now() - ApiLog.next_attempt_at)
    result = await session.execute(
        select(ApiLog.merchant_id, ApiLog.id, overdue)
        .where(
            ApiLog.status == "pending",
            ApiLog.next_attempt_at
            < text("now() - make_interval(secs => :grace)").bindparams(grace=older_than_seconds),
        )
        .order_by(ApiLog.next_attempt_at)
        .limit(limit)
    )
    return [
        DueDelivery(merchant_id, delivery_id, float(seconds))
        for merchant_id, delivery_id, seconds in result.all()
    ]


async def forget_old_receipts(session: AsyncSession, *, older_than_days: int) -> int:
    """Shopify retries a delivery for 48 hours; receipts are kept as long as the inbox."""
    result = await session.execute(
        text(
            "DELETE FROM webhook_receipts WHERE created_at < now() - make_interval(days => :days)"
        ),
        {"days": older_than_days},
    )
    return int(getattr(result, "rowcount", 0) or 0)
