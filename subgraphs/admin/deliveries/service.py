"""The webhook inbox as support staff and merchants operate it. No web framework here; never
commits (the caller's unit of work does, and only then is the job enqueued)."""

from __future__ import annotations

import enum

import structlog
from redis.asyncio import Redis

from db.ids import new_id
from db.models import ApiLog
from subgraphs.admin.deliveries.repository import WebhookDeliveriesRepository
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.domain import DomainError
from subgraphs.kit.jobs import delivery_job_id, enqueue_webhook_delivery, job_queue
from subgraphs.kit.write_context import WriteContext

log = structlog.get_logger(__name__)

# The error a delivery fails with when a GDPR erasure removed its payload before processing.
REDACTED_DELIVERY_ERROR = "redacted"


class DeliveryStatus(enum.StrEnum):
    """api_logs.status (each value is its name in lower case)."""

    PENDING = enum.auto()
    DONE = enum.auto()
    FAILED = enum.auto()


class WebhookTopic(enum.StrEnum):
    """The Shopify topics the edge app accepts (the worker's ``worker.webhooks.topics.HANDLERS``;
    a test keeps the two equal), by Shopify's REST topic names."""

    ORDERS_CREATE = "orders/create"
    ORDERS_UPDATED = "orders/updated"
    ORDERS_PAID = "orders/paid"
    ORDERS_CANCELLED = "orders/cancelled"
    REFUNDS_CREATE = "refunds/create"
    CUSTOMERS_CREATE = "customers/create"
    CUSTOMERS_UPDATE = "customers/update"
    APP_UNINSTALLED = "app/uninstalled"
    CUSTOMERS_DATA_REQUEST = "customers/data_request"
    CUSTOMERS_REDACT = "customers/redact"
    SHOP_REDACT = "shop/redact"


class WebhookRetryErrorCode(enum.StrEnum):
    NOT_FOUND = enum.auto()
    NOT_RETRYABLE = enum.auto()


class WebhookRetryError(DomainError):
    code: WebhookRetryErrorCode

    def __init__(self, code: WebhookRetryErrorCode, message: str) -> None:
        super().__init__(code, "id", message)


async def retry_delivery(write: WriteContext, delivery_id: str) -> ApiLog:
    """Put a failed delivery back in the queue, due now.

    Its attempt counter restarts at 0 so the worker grants it a full set of tries again (the
    worker gives up once ``attempts`` reaches its maximum, and the failure that exhausted
    them is what the retry overrides). The history is not lost: ``last_error`` stays on the
    row until an attempt succeeds, and the audit entry records the attempts and error the
    delivery had when it was retried. Enqueue the job with ``enqueue_retry`` once committed.
    """
    repository = WebhookDeliveriesRepository(write.session, write.merchant_id)
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
    await write.audit.record(
        AuditAction.WEBHOOK_RETRY,
        {
            "deliveryId": row.id,
            "topic": row.topic,
            "previousAttempts": previous_attempts,
            "previousError": previous_error,
        },
    )
    return reopened


async def enqueue_retry(redis: Redis, merchant_id: str, delivery_id: str) -> None:
    """After ``retry_delivery`` committed, so the worker finds the row pending. If Redis is
    away the sweeper picks the row up anyway: it is pending and already due. The job id is
    the delivery's, made unique per retry so no earlier job's kept result can swallow it."""
    if not await enqueue_webhook_delivery(
        job_queue(redis),
        merchant_id,
        delivery_id,
        job_id=f"{delivery_job_id(delivery_id)}:manual:{new_id()}",
    ):
        log.info("webhook_retry_left_to_sweeper", delivery_id=delivery_id)
