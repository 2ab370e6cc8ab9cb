"""GraphQL types of the webhook deliveries domain."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db.models import ApiLog
from subgraphs.admin.deliveries import service
from subgraphs.kit.graphql.domain import DisplayableError, domain_enum

WebhookDeliveryStatus = domain_enum(
    service.DeliveryStatus,
    name="WebhookDeliveryStatus",
    description="Where a webhook delivery stands in the inbox.",
    values={
        "PENDING": "Waiting for its first attempt or for its next retry.",
        "DONE": "Processed; its payload has been discarded.",
        "FAILED": "Gave up after its last attempt; `webhookRetry` can queue it again.",
    },
)


@strawberry.type(
    description="One Shopify webhook delivery in the durable inbox. Its payload (customer "
    "data) is never exposed."
)
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="LoyalNest delivery id.")
    topic: str = strawberry.field(description="Shopify topic, such as `orders/create`.")
    status: WebhookDeliveryStatus = strawberry.field(description="Where the delivery stands.")  # type: ignore[valid-type]
    webhook_id: str = strawberry.field(
        description="Shopify's X-Shopify-Webhook-Id; one delivery per id."
    )
    event_id: str | None = strawberry.field(
        description="Shopify's X-Shopify-Event-Id, shared by every webhook of one event."
    )
    triggered_at: datetime | None = strawberry.field(
        description="When Shopify says the event happened (X-Shopify-Triggered-At)."
    )
    received_at: datetime = strawberry.field(description="When LoyalNest accepted it.")
    attempts: int = strawberry.field(
        description="Processing attempts since it was received or last retried by hand."
    )
    last_error: str | None = strawberry.field(
        description="Why the latest attempt failed (`redacted` when a GDPR erasure removed "
        "the payload before processing)."
    )
    next_attempt_at: datetime = strawberry.field(
        description="When a pending delivery is due; meaningless once done or failed."
    )
    processed_at: datetime | None = strawberry.field(description="When processing succeeded.")
    duration_ms: int | None = strawberry.field(
        description="How long the successful attempt took, in milliseconds."
    )
    payload_bytes: int = strawberry.field(description="Size of the payload Shopify sent.")

    @classmethod
    def from_row(cls, row: ApiLog) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(row.id),
            topic=row.topic,
            status=WebhookDeliveryStatus(row.status),
            webhook_id=row.webhook_id,
            event_id=row.event_id,
            triggered_at=row.triggered_at,
            received_at=row.created_at,
            attempts=row.attempts,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at,
            processed_at=row.processed_at,
            duration_ms=row.duration_ms,
            payload_bytes=row.payload_bytes,
        )


@strawberry.input(description="Which failed delivery to queue again.")
class WebhookRetryInput:
    id: strawberry.ID = strawberry.field(description="The delivery's id.")


WebhookRetryErrorCode = domain_enum(
    service.WebhookRetryErrorCode,
    name="WebhookRetryErrorCode",
    description="Why a webhook delivery could not be retried.",
    values={
        "NOT_FOUND": "The merchant has no delivery with this id.",
        "NOT_RETRYABLE": "Only failed deliveries whose payload is still stored can be retried.",
    },
)


@strawberry.type(description="An expected failure of `webhookRetry`.")
class WebhookRetryUserError(DisplayableError):
    code: WebhookRetryErrorCode = strawberry.field(description="What went wrong, for programs.")  # type: ignore[valid-type]


@strawberry.type(description="Result of `webhookRetry`.")
class WebhookRetryPayload:
    delivery: WebhookDelivery | None = strawberry.field(
        default=None, description="The delivery, pending again; null when nothing changed."
    )
    user_errors: list[WebhookRetryUserError] = strawberry.field(description="Why nothing changed.")
