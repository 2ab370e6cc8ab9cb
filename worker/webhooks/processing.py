"""The worker's side of the inbox: process deliveries exactly once, and retry what failed.

Exactly once: the handler's effects and the row's "done" commit in one transaction, on a row
locked FOR UPDATE SKIP LOCKED. A worker killed mid-way rolls back both, the row stays pending,
and the sweeper wakes its merchant again; a second claim of a row already done finds nothing.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from db.encryption_contexts import API_LOGS_PAYLOAD
from db.models import ApiLog
from db.session import tenant_unit_of_work
from subgraphs.admin.deliveries.repository import WebhookDeliveriesRepository
from subgraphs.kit.auth_repository import look_up_shopify_customers
from subgraphs.kit.domain import DomainError
from subgraphs.kit.events import ledger_changed
from subgraphs.kit.jobs import delivery_job_id, enqueue_webhook_delivery, job_queue
from subgraphs.kit.observability import WORKER_BATCH_SIZE, WORKER_QUEUE_DELAY_SECONDS
from subgraphs.kit.pubsub import webhook_channel
from subgraphs.kit.resources import Resources
from subgraphs.kit.validation import unstorable_strings
from subgraphs.points.orders.service import EventResult, OrderNotEarnedYetError
from worker.analytics.webhooks import OrderFactsBatch
from worker.referrals import webhooks as referral_steps
from worker.webhooks.topics import HANDLERS, Handler, HandlerContext, payload_from_json

log = structlog.get_logger(__name__)

# Per the spec: 3 tries, exponential backoff from 500 ms.
MAX_ATTEMPTS = 3
BASE_DELAY_SECONDS = 0.5
# A refund or cancellation that overtook its order's award waits for it: Shopify itself
# retries a late orders/create for up to 48 hours, and reconciliation runs hourly.
NOT_YET_DELAYS_SECONDS = (30.0, 120.0, 600.0, 1800.0, 3600.0)
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


def _usable_payload(resources: Resources, row: ApiLog) -> tuple[Handler, dict[str, Any]]:
    """The handler and the payload of a claimed delivery; raises (before anything is written)
    when the delivery cannot be processed as it is."""
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
    return handler, payload


def _not_due(row: ApiLog, now: datetime) -> bool:
    """Waiting for a scheduled retry: a job that came early leaves it alone."""
    return row.next_attempt_at > now + timedelta(seconds=1)


def _waited_seconds(row: ApiLog, claimed_at: datetime) -> float:
    """How long the delivery waited for a worker: from when it was due (the shim accepted
    it, or its retry time came) to its claim. A job that came a little early counts 0."""
    return max((claimed_at - row.next_attempt_at).total_seconds(), 0.0)


@dataclass(frozen=True, slots=True)
class _Processed:
    delivery_id: str
    claimed: tuple[str, int]
    result: EventResult

    def with_note(self, note: str | None) -> _Processed:
        """With what a step that finished after the handler (the batch's order facts) did."""
        if note is None:
            return self
        detail = f"{self.result.detail}; {note}"
        return replace(self, result=replace(self.result, detail=detail))


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
            if _not_due(row, now):
                return DeliveryOutcome.SKIPPED
            WORKER_QUEUE_DELAY_SECONDS.observe(_waited_seconds(row, now))
            claimed = (row.topic, row.attempts)
            handler, payload = _usable_payload(resources, row)
            context = HandlerContext(session, resources, merchant_id, delivery_id, now)
            result = await handler(context, payload)
            duration_ms = int((time.perf_counter() - started) * 1000)
            await inbox.mark_done(row, duration_ms=duration_ms)
    except Exception as exc:
        if claimed is None:
            raise  # nothing was claimed (database unreachable?): the sweeper tries again
        return await _record_failure(resources, merchant_id, delivery_id, claimed, exc)
    await _announce(resources, merchant_id, _Processed(delivery_id, claimed, result))
    return DeliveryOutcome.DONE


async def process_deliveries(
    resources: Resources, merchant_id: str, delivery_ids: Sequence[str], *, room: int = 0
) -> dict[str, DeliveryOutcome]:
    """Process a batch of one merchant's deliveries in ONE transaction: a commit (and the
    tenant's ``set_config``) per batch instead of per delivery, which were most of the
    worker's round trips besides the handlers' own (issue 12). With ``room``, the batch also
    takes up to that many more of the merchant's deliveries that are due (oldest first), whose
    jobs have not started yet: the outcomes include theirs.

    Each delivery stays exactly once: its row is claimed (locked) in the batch's transaction
    and marked done in it, so its effects and its "done" commit together or not at all, as in
    ``process_delivery``. A bad neighbour cannot take the others down: a delivery refused
    before its handler runs (no payload, unusable text, no handler) writes nothing and is
    recorded as failed after the commit; when a handler raises, its partial work may be
    anywhere in the transaction, so the whole batch rolls back and every delivery of it is
    processed again on its own (``process_delivery``), where only that one fails. Handlers
    raise rarely (a payload the rules refuse, a refund ahead of its order), so the common
    batch needs no savepoint per delivery (two more round trips each).
    """
    if len(delivery_ids) == 1 and room <= 0:
        WORKER_BATCH_SIZE.observe(1)
        return {delivery_ids[0]: await process_delivery(resources, merchant_id, delivery_ids[0])}
    outcomes: dict[str, DeliveryOutcome] = {}
    waits: list[float] = []
    processed: list[_Processed] = []
    refused: list[tuple[str, tuple[str, int], Exception]] = []
    taken: list[str] = []
    try:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            inbox = WebhookDeliveriesRepository(session, merchant_id)
            unique_ids = list(dict.fromkeys(delivery_ids))
            claimed_at = datetime.now(UTC)
            locked = await inbox.claim_pending_many(unique_ids, room=room)
            asked = set(unique_ids)
            # What the batch took besides what it was asked for: abandoned, those are
            # processed again on their own too.
            taken = [row.id for row in locked if row.id not in asked]
            unique_ids += taken
            if unique_ids:  # a wake that found nothing due made no batch
                WORKER_BATCH_SIZE.observe(len(unique_ids))
            claimed_rows = [row for row in locked if not _not_due(row, claimed_at)]
            waits.extend(_waited_seconds(row, claimed_at) for row in claimed_rows)
            claimed_ids = {row.id for row in claimed_rows}
            for delivery_id in unique_ids:
                if delivery_id not in claimed_ids:
                    outcomes[delivery_id] = DeliveryOutcome.SKIPPED
            # Customers in one order in every batch: two batches running at once (or in two
            # workers) then take their customers' row locks in the same order, and wait for
            # each other instead of deadlocking.
            claimed_rows.sort(key=lambda row: (row.shopify_customer_id or "", row.id))
            # Every step of every delivery asks who the Shopify customer is: once for all; and
            # the referral step of a paid order whether anybody referred them.
            buyers = {row.shopify_customer_id for row in claimed_rows if row.shopify_customer_id}
            await look_up_shopify_customers(session, merchant_id, sorted(buyers))
            paid = {row.shopify_customer_id for row in claimed_rows if row.topic == "orders/paid"}
            await referral_steps.before_paid_orders(session, merchant_id, sorted(buyers & paid))
            finished: list[tuple[ApiLog, int]] = []
            order_facts = OrderFactsBatch(session, merchant_id)
            for row in claimed_rows:
                started = time.perf_counter()
                claimed = (row.topic, row.attempts)
                try:
                    handler, payload = _usable_payload(resources, row)
                except Exception as exc:
                    refused.append((row.id, claimed, exc))
                    continue
                # A raise here or in the handler abandons the batch (below).
                await order_facts.make_way_for(row.topic, row.shopify_customer_id)
                context = HandlerContext(
                    session, resources, merchant_id, row.id, datetime.now(UTC), order_facts
                )
                result = await handler(context, payload)
                finished.append((row, int((time.perf_counter() - started) * 1000)))
                processed.append(_Processed(row.id, claimed, result))
            await order_facts.record()
            processed = [
                done.with_note(order_facts.notes.get(done.delivery_id)) for done in processed
            ]
            await inbox.mark_many_done(finished)
    except Exception as exc:
        # Nothing of the batch committed (a handler raised, or the commit or the connection
        # failed): each delivery again, on its own.
        log.info("webhook_batch_abandoned", size=len(delivery_ids), error=_describe(exc))
        return {
            delivery_id: await process_delivery(resources, merchant_id, delivery_id)
            for delivery_id in dict.fromkeys([*delivery_ids, *taken])
        }
    # Counted once the batch committed: an abandoned batch's deliveries count in
    # process_delivery, where each is claimed again.
    for waited in waits:
        WORKER_QUEUE_DELAY_SECONDS.observe(waited)
    for delivery_id, claimed, reason in refused:
        outcomes[delivery_id] = await _record_failure(
            resources, merchant_id, delivery_id, claimed, reason
        )
    # The batch's live statuses in one round trip to Redis, not one each.
    await resources.pubsub.publish_many([_done_event(merchant_id, done) for done in processed])
    for done in processed:
        outcomes[done.delivery_id] = DeliveryOutcome.DONE
    # The ledger's change once per batch and topic, not per delivery: each is a cache
    # invalidation and a publish (Redis round trips after the commit, one after another), and
    # a live dashboard reads the ledger once per event anyway.
    changed = {done.claimed[0] for done in processed if done.result.ledger_changed}
    for topic in sorted(changed):
        await ledger_changed(resources, merchant_id, source="webhook", topic=topic)
    return outcomes


async def _announce(resources: Resources, merchant_id: str, done: _Processed) -> None:
    """After the commit: the log line, the ledger's change, the delivery's live status."""
    if done.result.ledger_changed:
        await ledger_changed(resources, merchant_id, source="webhook", topic=done.claimed[0])
    await resources.pubsub.publish(*_done_event(merchant_id, done))


def _done_event(merchant_id: str, done: _Processed) -> tuple[str, dict[str, Any]]:
    """The log line of a processed delivery, and its live status (channel, event)."""
    topic, attempts = done.claimed
    result = done.result
    log.info(
        "webhook_processed",
        delivery_id=done.delivery_id,
        topic=topic,
        outcome=result.outcome.value,
        detail=result.detail,
    )
    return webhook_channel(merchant_id), {
        "event": "done",
        "deliveryId": done.delivery_id,
        "topic": topic,
        "status": "done",
        "attempts": attempts + 1,
        "outcome": result.outcome.value,
        "detail": result.detail,
    }


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
