"""The webhook inbox as support staff and merchants operate it. No web framework here; never
commits (the caller's unit of work does, and only then is the job enqueued)."""

from __future__ import annotations

import enum

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ApiLog
from subgraphs.admin.gdpr import REDACTED_DELIVERY_ERROR
from subgraphs.admin.repository import WebhookDeliveriesRepository
from subgraphs.kit.repository import insert_audit_log


class DeliveryStatus(enum.Enum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class WebhookRetryErrorCode(enum.Enum):
    NOT_FOUND = "NOT_FOUND"
    NOT_RETRYABLE = "NOT_RETRYABLE"


class WebhookRetryError(Exception):
    def __init__(self, code: WebhookRetryErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def retry_delivery(
    session: AsyncSession, merchant_id: str, delivery_id: str, *, actor_id: str | None
) -> ApiLog:
    """Put a failed delivery back in the queue, due now.

    Its attempt counter restarts at 0 so the worker grants it a full set of tries again (the
    worker gives up once ``attempts`` reaches its maximum, and the failure that exhausted
    them is what the retry overrides). The history is not lost: ``last_error`` stays on the
    row until an attempt succeeds, and the audit entry records the attempts and error the
    delivery had when it was retried.
    """
    repository = WebhookDeliveriesRepository(session, merchant_id)
    found = await repository.delivery_for_update(delivery_id)
    if found is None:
        raise WebhookRetryError(WebhookRetryErrorCode.NOT_FOUND, "no such webhook delivery")
    row, has_payload = found
    if row.status != DeliveryStatus.FAILED.value:
        raise WebhookRetryError(
            WebhookRetryErrorCode.NOT_RETRYABLE,
            f"only a failed delivery can be retried; this one is {row.status}",
        )
    if not has_payload or row.last_error == REDACTED_DELIVERY_ERROR:
        raise WebhookRetryError(
            WebhookRetryErrorCode.NOT_RETRYABLE,
            "this delivery's payload was erased by a GDPR redaction, so it cannot be replayed",
        )
    previous_attempts, previous_error = row.attempts, row.last_error
    reopened = await repository.reopen_for_retry(row)
    await insert_audit_log(
        session,
        merchant_id=merchant_id,
        action="webhook_retry",
        actor_id=actor_id,
        metadata={
            "deliveryId": row.id,
            "topic": row.topic,
            "previousAttempts": previous_attempts,
            "previousError": previous_error,
        },
    )
    return reopened
