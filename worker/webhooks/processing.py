"""The worker's side of the inbox: process one delivery exactly once, retry what failed,
and sweep up what a crash or a Redis outage left pending.

Exactly once: the handler's effects and the row's "done" commit in one transaction, on a row
locked FOR UPDATE SKIP LOCKED. A worker killed mid-way rolls back both, the row stays pending,
and the sweeper enqueues it again; a second job for a row already done finds nothing to claim.
"""

from __future__ import annotations

import enum
import time
from datetime import UTC, datetime, timedelta

import structlog
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from db.encryption_contexts import API_LOGS_PAYLOAD
from db.session import tenant_unit_of_work
from subgraphs.admin.deliveries.repository import WebhookDeliveriesRepository
from subgraphs.kit.domain import DomainError
from subgraphs.kit.events import ledger_changed
from subgraphs.kit.jobs import delivery_job_id, enqueue_webhook_delivery, job_queue
from subgraphs.kit.pubsub import webhook_channel
from subgraphs.kit.resources import Resources
from subgraphs.kit.validation import unstorable_strings
from subgraphs.points.orders.service import OrderNotEarnedYetError
from worker.webhooks.topics import HANDLERS, HandlerContext, payload_from_json

log = structlog.get_logger(__name__)

# Per the spec: 3 tries, exponential backoff from 500 ms.
MAX_ATTEMPTS = 3
BASE_DELAY_SECONDS = 0.5
# A refund or cancellation that overtook its order's award waits for it: Shopify itself
# retries a late orders/create for up to 48 hours, and reconciliation runs hourly.
NOT_YET_DELAYS_SECONDS = (30.0, 120.0, 600.0, 1800.0, 3600.0)
SWEEP_BATCH = 500
RECEIPT_RETENTION_DAYS = 90


class DeliveryOutcome(enum.Enum):
    DONE = "done"
    RETRYING = "retrying"
    FAILED = "failed"
    # Another job got there first, or the row is waiting for a scheduled retry.
    SKIPPED = "skipped"


class UnusablePayloadError(ValueError):
    """The stored payload cannot be used as it is (what the shim stores as it came)."""


# Postgres refused the values themselves (SQLSTATE class 22, "data exception": a numeric
# field overflow, a NUL in text, an invalid datetime): the same payload is refused again.
_DATA_EXCEPTION_CLASS = "22"


def is_permanent(exc: BaseException) -> bool:
    """The payload or the business rules say no, and a retry would say no again: fail once,
    with the reason. Everything else (a connection lost, a timeout, a deadlock) is retried."""
    if isinstance(
        exc,
        ValueError | TypeError | KeyError | ArithmeticError | DomainError | ValidationError,
    ):
        # ArithmeticError: decimal.Overflow and InvalidOperation from amounts like 1e400.
        # TypeError, KeyError: a field of the wrong type, or missing, in the payload.
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return isinstance(sqlstate, str) and sqlstate.startswith(_DATA_EXCEPTION_CLASS)
    return False


def _unusable_strings(payload: dict[str, object]) -> None:
    """Refuse, before any handler, a payload holding text Postgres cannot store: it would
    fail deep inside a handler, after part of its work."""
    found = next(unstorable_strings(payload), None)
    if found is not None:
        path, reason = found
        raise UnusablePayloadError(f"the payload cannot be used: {path or 'a key'} {reason}")


def _retry_delay(exc: BaseException, attempts_so_far: int) -> float | None:
    """Seconds until the next try, or None to give up now."""
    if isinstance(exc, OrderNotEarnedYetError):
        if attempts_so_far < len(NOT_YET_DELAYS_SECONDS):
            return NOT_YET_DELAYS_SECONDS[attempts_so_far]
        return None
    if is_permanent(exc):
        return None
    if attempts_so_far + 1 >= MAX_ATTEMPTS:
        return None
    return float(BASE_DELAY_SECONDS * 2**attempts_so_far)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DBAPIError):
        return f"{type(exc).__name__}: {exc.orig}"
    return f"{type(exc).__name__}: {exc}"


async def process_delivery(
    resources: Resources, merchant_id: str, delivery_id: str
) -> DeliveryOutcome:
    started = time.perf_counter()
    claimed: tuple[str, int] | None = None
    try:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            inbox = WebhookDeliveriesRepository(session, merchant_id)
            row = await inbox.claim_pending(delivery_id)
            if row is None:
                return DeliveryOutcome.SKIPPED
            now = datetime.now(UTC)
            if row.next_attempt_at > now + timedelta(seconds=1):
                return DeliveryOutcome.SKIPPED
            claimed = (row.topic, row.attempts)
            if row.payload_encrypted is None:
                raise ValueError("the payload is gone (redacted); nothing to process")
            payload = payload_from_json(
                resources.cipher.decrypt(row.payload_encrypted, context=API_LOGS_PAYLOAD)
            )
            if not isinstance(payload, dict):
                raise UnusablePayloadError("the payload is not a JSON object")
            _unusable_strings(payload)
            handler = HANDLERS.get(row.topic)
            if handler is None:
                raise ValueError(f"no handler for topic {row.topic}")
            context = HandlerContext(session, resources, merchant_id, delivery_id, now)
            result = await handler(context, payload)
            duration_ms = int((time.perf_counter() - started) * 1000)
            await inbox.mark_done(row, duration_ms=duration_ms)
    except Exception as exc:
        if claimed is None:
            raise  # nothing was claimed (database unreachable?): the sweeper tries again
        return await _record_failure(resources, merchant_id, delivery_id, claimed, exc)
    topic = claimed[0]
    log.info(
        "webhook_processed",
        delivery_id=delivery_id,
        topic=topic,
        outcome=result.outcome.value,
        detail=result.detail,
    )
    if result.ledger_changed:
        await ledger_changed(resources, merchant_id, source="webhook", topic=topic)
    await resources.pubsub.publish(
        webhook_channel(merchant_id),
        {
            "event": "done",
            "deliveryId": delivery_id,
            "topic": topic,
            "status": "done",
            "attempts": claimed[1] + 1,
            "outcome": result.outcome.value,
            "detail": result.detail,
        },
    )
    return DeliveryOutcome.DONE


async def _record_failure(
    resources: Resources,
    merchant_id: str,
    delivery_id: str,
    claimed: tuple[str, int],
    exc: Exception,
) -> DeliveryOutcome:
    topic, attempts = claimed
    delay = _retry_delay(exc, attempts)
    error = _describe(exc)
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        updated = await WebhookDeliveriesRepository(session, merchant_id).record_failure(
            delivery_id, error=error, retry_in_seconds=delay
        )
    if updated is None:
        return DeliveryOutcome.SKIPPED
    outcome = DeliveryOutcome.RETRYING if delay is not None else DeliveryOutcome.FAILED
    log.warning(
        "webhook_failed",
        delivery_id=delivery_id,
        topic=topic,
        attempts=updated.attempts,
        retry_in_seconds=delay,
        error=error,
    )
    if delay is not None:
        # A short first wait; if Redis is away the sweeper reschedules it.
        await enqueue_webhook_delivery(
            job_queue(resources.redis),
            merchant_id,
            delivery_id,
            job_id=f"{delivery_job_id(delivery_id)}:retry:{updated.attempts}",
            defer_seconds=delay,
        )
    await resources.pubsub.publish(
        webhook_channel(merchant_id),
        {
            "event": outcome.value,
            "deliveryId": delivery_id,
            "topic": topic,
            "status": updated.status,
            "attempts": updated.attempts,
            "error": error,
        },
    )
    return outcome
