"""GraphQL types of the admin subgraph."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from db.models import ApiLog, AuditLog
from db.models import GdprRequest as GdprRequestRow
from db.models import Merchant as MerchantRow
from subgraphs.admin import webhooks
from subgraphs.admin.live import WebhookEvent
from subgraphs.admin.loaders import AdminInfo
from subgraphs.admin.service import MerchantPlan as DomainPlan
from subgraphs.admin.webhooks import DeliveryStatus
from subgraphs.kit.permissions import Capability, require


@strawberry.enum(description="The LoyalNest plan a merchant pays for.")
class MerchantPlan(enum.Enum):
    FREE = strawberry.enum_value(DomainPlan.FREE.value, description="Up to 300 orders a month.")
    STARTER = strawberry.enum_value(
        DomainPlan.STARTER.value, description="Up to 500 orders a month."
    )
    GROWTH = strawberry.enum_value(
        DomainPlan.GROWTH.value, description="Up to 1,500 orders a month."
    )
    PLUS = strawberry.enum_value(DomainPlan.PLUS.value, description="Shopify Plus merchants.")


@strawberry.federation.type(keys=["id"], description="A Shopify shop running LoyalNest.")
class Merchant:
    id: strawberry.ID = strawberry.field(description="LoyalNest merchant id.")
    shop_domain: str = strawberry.field(description="The shop's myshopify.com domain.")
    plan: MerchantPlan = strawberry.field(description="The merchant's LoyalNest plan.")

    @classmethod
    def from_row(cls, row: MerchantRow) -> Merchant:
        return cls(
            id=strawberry.ID(row.id), shop_domain=row.shop_domain, plan=MerchantPlan(row.plan)
        )

    @classmethod
    async def resolve_reference(cls, info: AdminInfo, id: strawberry.ID) -> Merchant | None:
        row = await info.context.loaders.merchant_by_id.load(str(id))
        return None if row is None else cls.from_row(row)


@strawberry.enum(description="Where a webhook delivery stands in the inbox.")
class WebhookDeliveryStatus(enum.Enum):
    PENDING = strawberry.enum_value(
        DeliveryStatus.PENDING.value,
        description="Waiting for its first attempt or for its next retry.",
    )
    DONE = strawberry.enum_value(
        DeliveryStatus.DONE.value, description="Processed; its payload has been discarded."
    )
    FAILED = strawberry.enum_value(
        DeliveryStatus.FAILED.value,
        description="Gave up after its last attempt; `webhookRetry` can queue it again.",
    )


@strawberry.type(
    description="One Shopify webhook delivery in the durable inbox. Its payload (customer "
    "data) is never exposed."
)
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="LoyalNest delivery id.")
    topic: str = strawberry.field(description="Shopify topic, such as `orders/create`.")
    status: WebhookDeliveryStatus = strawberry.field(description="Where the delivery stands.")
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


def newest_first_position(row: ApiLog | GdprRequestRow) -> tuple[str, str]:
    """Cursor of newest-first lists: created_at then id, so it survives monthly partitions."""
    return (row.created_at.isoformat(), row.id)


@strawberry.input(description="Which failed delivery to queue again.")
class WebhookRetryInput:
    id: strawberry.ID = strawberry.field(description="The delivery's id.")


@strawberry.enum(description="Why a webhook delivery could not be retried.")
class WebhookRetryErrorCode(enum.Enum):
    NOT_FOUND = strawberry.enum_value(
        webhooks.WebhookRetryErrorCode.NOT_FOUND.value,
        description="The merchant has no delivery with this id.",
    )
    NOT_RETRYABLE = strawberry.enum_value(
        webhooks.WebhookRetryErrorCode.NOT_RETRYABLE.value,
        description="Only failed deliveries whose payload is still stored can be retried.",
    )


@strawberry.type(description="An expected failure of `webhookRetry`.")
class WebhookRetryUserError:
    field: list[str] | None = strawberry.field(description="Path to the input field at fault.")
    message: str = strawberry.field(description="What went wrong, for people.")
    code: WebhookRetryErrorCode = strawberry.field(description="What went wrong, for programs.")

    @classmethod
    def from_error(cls, error: webhooks.WebhookRetryError) -> WebhookRetryUserError:
        return cls(
            field=["input", "id"],
            message=error.message,
            code=WebhookRetryErrorCode(error.code.value),
        )


@strawberry.type(description="Result of `webhookRetry`.")
class WebhookRetryPayload:
    delivery: WebhookDelivery | None = strawberry.field(
        description="The delivery, pending again; null when nothing changed."
    )
    user_errors: list[WebhookRetryUserError] = strawberry.field(description="Why nothing changed.")


@strawberry.enum(description="What Shopify asked for under GDPR.")
class GdprRequestType(enum.Enum):
    DATA_REQUEST = strawberry.enum_value(
        "data_request", description="customers/data_request: export a customer's data."
    )
    CUSTOMER_REDACT = strawberry.enum_value(
        "customer_redact", description="customers/redact: erase a customer's data."
    )
    SHOP_REDACT = strawberry.enum_value(
        "shop_redact", description="shop/redact: erase the shop's data after uninstall."
    )


@strawberry.enum(description="Where a GDPR request stands.")
class GdprRequestStatus(enum.Enum):
    PENDING = strawberry.enum_value("pending", description="Received, not yet carried out.")
    COMPLETED = strawberry.enum_value("completed", description="Carried out.")
    FAILED = strawberry.enum_value("failed", description="Could not be carried out; see error.")


@strawberry.type(
    description="A GDPR request from Shopify, kept as the record that it was carried out."
)
class GdprRequest:
    id: strawberry.ID = strawberry.field(description="LoyalNest request id.")
    type: GdprRequestType = strawberry.field(description="What was asked for.")
    status: GdprRequestStatus = strawberry.field(description="Where the request stands.")
    shopify_customer_id: str | None = strawberry.field(
        description="The Shopify customer concerned; null for shop/redact."
    )
    created_at: datetime = strawberry.field(description="When the request was received.")
    completed_at: datetime | None = strawberry.field(description="When it was carried out.")
    retention_expires_at: datetime = strawberry.field(
        description="When this record (and any export) is deleted."
    )
    error: str | None = strawberry.field(description="Why it failed, if it did.")

    @strawberry.field(
        description="A data request's export: everything LoyalNest holds about the customer, "
        "to hand over to them. Null for other types and once a later redact erased it. Needs "
        "the read_gdpr capability."
    )
    async def export(self, info: AdminInfo) -> JSON | None:
        require(info.context.viewer, Capability.READ_GDPR)
        if self.type is not GdprRequestType.DATA_REQUEST:
            return None
        export = await info.context.loaders.gdpr_export_by_id.load(str(self.id))
        return None if export is None else JSON(export)

    @classmethod
    def from_row(cls, row: GdprRequestRow) -> GdprRequest:
        return cls(
            id=strawberry.ID(row.id),
            type=GdprRequestType(row.request_type),
            status=GdprRequestStatus(row.status),
            shopify_customer_id=row.shopify_customer_id,
            created_at=row.created_at,
            completed_at=row.completed_at,
            retention_expires_at=row.retention_expires_at,
            error=row.error,
        )


@strawberry.type(
    description="An entry of the merchant's audit trail, or a webhook inbox event (actions "
    "`webhook_received`, `webhook_retrying`, `webhook_done`, `webhook_failed`)."
)
class AuditLogEvent:
    id: strawberry.ID = strawberry.field(
        description="The audit entry's id; for webhook inbox events, an id of the "
        "notification itself (those are not stored in the audit trail)."
    )
    action: str = strawberry.field(description="What happened, such as `webhook_retry`.")
    actor_id: str | None = strawberry.field(
        description="Who did it (Shopify user or staff id); null for the system and Shopify."
    )
    metadata: JSON = strawberry.field(
        description="Details of the action; for webhook events: deliveryId, topic, status, "
        "attempts and error."
    )
    created_at: datetime = strawberry.field(description="When it happened.")

    @classmethod
    def from_row(cls, row: AuditLog) -> AuditLogEvent:
        return cls(
            id=strawberry.ID(row.id),
            action=row.action,
            actor_id=row.actor_id,
            metadata=JSON(row.metadata_),
            created_at=row.created_at,
        )

    @classmethod
    def from_webhook_event(cls, event: WebhookEvent) -> AuditLogEvent:
        return cls(
            id=strawberry.ID(event.id),
            action=event.action,
            actor_id=None,
            metadata=JSON(event.metadata),
            created_at=event.received_at,
        )
