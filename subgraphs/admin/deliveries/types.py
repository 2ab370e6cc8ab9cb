"""GraphQL types of the webhook deliveries domain."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db.models import ApiLog
from subgraphs.admin.deliveries import service
from subgraphs.admin.loaders import AdminInfo
from subgraphs.admin.nodes.types import Node
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.fields import from_attributes
from subgraphs.kit.graphql.node import global_id, local_id
from subgraphs.kit.graphql.user_errors import UserError, user_errors_field
from subgraphs.kit.permissions import Capability, require

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

WebhookTopic = domain_enum(
    service.WebhookTopic,
    name="WebhookTopic",
    description="A Shopify webhook topic LoyalNest takes (Shopify's WebhookSubscriptionTopic "
    "names; the REST name, such as `orders/create`, in each description).",
    values={
        "ORDERS_CREATE": "orders/create: an order was placed; earns points when the program "
        "awards on ORDER_CREATED.",
        "ORDERS_UPDATED": "orders/updated: an order was edited; its order facts (analytics) "
        "follow, points do not change.",
        "ORDERS_PAID": "orders/paid: an order was paid; earns points when the program awards "
        "on ORDER_PAID.",
        "ORDERS_CANCELLED": "orders/cancelled: an order was cancelled; its points are taken back.",
        "REFUNDS_CREATE": "refunds/create: an order was refunded; the refunded lines' points "
        "are taken back.",
        "CUSTOMERS_CREATE": "customers/create: a customer signed up; they join the program.",
        "CUSTOMERS_UPDATE": "customers/update: a customer's details changed.",
        "APP_UNINSTALLED": "app/uninstalled: the shop removed LoyalNest; data is kept until "
        "shop/redact.",
        "CUSTOMERS_DATA_REQUEST": "customers/data_request: GDPR; export a customer's data.",
        "CUSTOMERS_REDACT": "customers/redact: GDPR; erase a customer's data.",
        "SHOP_REDACT": "shop/redact: GDPR; erase the shop's data after uninstall.",
    },
)


@strawberry.federation.type(
    keys=["id"],
    description="One Shopify webhook delivery in the durable inbox. Its payload (customer "
    "data) is never exposed.",
)
class WebhookDelivery(Node):
    topic: WebhookTopic = strawberry.field(  # type: ignore[valid-type]
        description="The Shopify topic, such as ORDERS_CREATE."
    )
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
    next_attempt_at: datetime | None = strawberry.field(
        description="When a pending delivery's next attempt is due; null once it is done or "
        "has failed for good."
    )
    processed_at: datetime | None = strawberry.field(description="When processing succeeded.")
    duration_ms: int | None = strawberry.field(
        description="How long the successful attempt took, in milliseconds."
    )
    payload_bytes: int = strawberry.field(description="Size of the payload Shopify sent.")

    @classmethod
    def from_row(cls, row: ApiLog) -> WebhookDelivery:
        return from_attributes(
            cls,
            row,
            id=global_id("WebhookDelivery", row.id),
            topic=WebhookTopic(row.topic),
            status=WebhookDeliveryStatus(row.status),
            received_at=row.created_at,
            next_attempt_at=(
                row.next_attempt_at if row.status == service.DeliveryStatus.PENDING else None
            ),
        )

    @classmethod
    async def resolve_reference(cls, info: AdminInfo, id: strawberry.ID) -> WebhookDelivery | None:
        """A refetch by global ID: readable as ``webhookDeliveries`` is (READ_WEBHOOKS)."""
        require(info.context.viewer, Capability.READ_WEBHOOKS)
        row = await info.context.loaders.deliveries.delivery_by_id.load(
            local_id(id, "WebhookDelivery")
        )
        return None if row is None else cls.from_row(row)


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
class WebhookRetryUserError(UserError[service.WebhookRetryErrorCode]):
    pass


@strawberry.type(description="Result of `webhookRetry`.")
class WebhookRetryPayload:
    delivery: WebhookDelivery | None = strawberry.field(
        default=None, description="The delivery, pending again; null when nothing changed."
    )
    user_errors: list[WebhookRetryUserError] = user_errors_field()
