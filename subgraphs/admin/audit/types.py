"""GraphQL types of the audit domain."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from db.models import AuditLog
from subgraphs.admin.audit.service import WebhookEvent


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
