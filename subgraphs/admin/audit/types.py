"""GraphQL types of the audit domain."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from db.models import AuditLog
from subgraphs.admin.audit.service import WebhookEvent
from subgraphs.admin.loaders import AdminInfo
from subgraphs.admin.nodes.types import Node
from subgraphs.kit import audit
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.node import decode_global_id, global_id, local_id
from subgraphs.kit.permissions import Capability, require

AuditAction = domain_enum(
    audit.AuditAction,
    name="AuditAction",
    description="What an audit entry or a webhook inbox event records.",
    values={
        "POINTS_EARNED": "A customer earned points (pointsEarn, an order, an action).",
        "POINTS_REDEEMED": "A customer spent points on a reward.",
        "POINTS_ADJUSTED": "Staff corrected a customer's points by hand (pointsAdjust).",
        "POINTS_REVERSED": "An order's points were taken back after a cancellation or refund.",
        "POINTS_EXPIRED": "Points expired under the program's policy.",
        "POINTS_REFUNDED": "Points were returned after a redemption could not be fulfilled.",
        "POINTS_CONFIG_UPDATED": "The program settings changed (programSettingsUpdate).",
        "TIER_CREATED": "A VIP tier was added.",
        "TIER_UPDATED": "A VIP tier was changed.",
        "TIER_DELETED": "A VIP tier was deleted.",
        "TIER_ASSIGNED": "A customer moved into (or out of) a VIP tier.",
        "PREVIEW_SIMULATED": "Tiers were simulated over the customers (vipTierPreview). No "
        "longer recorded (queries write nothing); kept for older entries.",
        "CAMPAIGN_CREATED": "A bonus campaign was created.",
        "CAMPAIGN_UPDATED": "A bonus campaign was changed, paused or resumed.",
        "CAMPAIGN_DELETED": "A bonus campaign was deleted.",
        "REWARD_CREATED": "A reward was added to the catalog.",
        "REWARD_UPDATED": "A reward was changed.",
        "REWARD_DELETED": "A reward was removed from the catalog.",
        "EXPIRY_NOTIFICATION_SENT": "A points expiry reminder was sent to a customer.",
        "EXPIRY_NOTIFICATION_FAILED": "A points expiry reminder could not be sent.",
        "NOTIFICATION_SETTINGS_UPDATED": "The notification provider, API key, sender or "
        "channels were changed (the key itself is never recorded).",
        "EMAIL_TEMPLATE_UPDATED": "A message type's templates were replaced.",
        "NOTIFICATION_SENT": "A notification was sent to a customer (or a test address).",
        "NOTIFICATION_FAILED": "A notification could not be sent.",
        "NOTIFICATION_SKIPPED": "A notification was not sent: no consent, or the customer's "
        "data was erased.",
        "DATA_IMPORT_COMMITTED": "A customer data import was committed (dataImportCreate).",
        "DATA_IMPORT_REVERTED": "A customer data import was undone (dataImportRevert).",
        "REFERRAL_CREATED": "A customer got a referral link.",
        "REFERRAL_PROGRAM_UPDATED": "The referral program's settings were changed.",
        "RFM_THRESHOLDS_UPDATED": "The shop's RFM thresholds were changed (analytics).",
        "CAMPAIGN_SUGGESTION_ACCEPTED": "A campaign suggestion was accepted: its campaign "
        "is created (analytics).",
        "CAMPAIGN_SUGGESTION_DISMISSED": "A campaign suggestion was dismissed (analytics).",
        "STAFF_SHOPS_COMPARED": "LoyalNest staff read the shop's analytics to compare it with "
        "other shops (shopComparison); the actor is the staff member.",
        "REFERRAL_ATTRIBUTED": "A friend was attributed to an advocate's link (pending).",
        "REFERRAL_COMPLETED": "A referred friend's qualifying order completed a referral.",
        "SPOOF_DETECTED": "A referral scored above the fraud threshold; its rewards wait for "
        "review.",
        "REFERRAL_REVIEWED": "Staff approved or rejected a held referral.",
        "REFERRAL_REWARD_ISSUED": "A referral reward was issued (points credited).",
        "REFERRAL_REWARD_CANCELLED": "A referral reward was cancelled (its qualifying order was "
        "refunded or cancelled in time, or the referral was rejected).",
        "MERCHANT_ADDED": "The shop was added to LoyalNest.",
        "APP_INSTALLED": "The app was installed (or reinstalled) on the shop.",
        "MERCHANT_UNINSTALLED": "The app was uninstalled from the shop.",
        "MERCHANT_REFERRAL_COMPLETED": "The shop installed with another shop's merchant "
        "referral code; both shops were credited.",
        "GDPR_DATA_REQUEST": "A customer's data was exported for a GDPR data request.",
        "GDPR_CUSTOMER_REDACTED": "A customer's data was erased for a GDPR redact request.",
        "GDPR_REQUEST_CREATED": "The merchant filed a GDPR or CCPA request received outside "
        "Shopify (gdprRequestCreate).",
        "GDPR_OPTED_OUT": "A customer opted out of the sale of their data (CCPA): marketing "
        "and RFM tracking consents were revoked.",
        "GDPR_RETENTION_PURGED": "Exports and request payloads past their 90 days were deleted.",
        "CONSENT_UPDATED": "A customer's consent was granted or revoked.",
        "WEBHOOK_RETRY": "Staff queued a failed webhook delivery again (webhookRetry).",
        "WEBHOOK_RECEIVED": "Inbox event: a webhook delivery was accepted (live only).",
        "WEBHOOK_RETRYING": "Inbox event: an attempt failed; the delivery will be retried "
        "(live only).",
        "WEBHOOK_DONE": "Inbox event: a delivery was processed (live only).",
        "WEBHOOK_FAILED": "Inbox event: a delivery gave up after its last attempt; "
        "`webhookRetry` can queue it again (live only).",
    },
)


# The two kinds of AuditLogEvent, told apart by their global ID's type name: an entry of the
# audit trail (a row, refetchable with node(id:)), and a webhook inbox event, which is a
# notification published live and never stored, so node(id:) answers null for it as for any
# object that no longer exists. Before global IDs both were bare UUIDs, indistinguishable.
AUDIT_ENTRY_TYPE = "AuditLogEvent"
WEBHOOK_INBOX_EVENT_TYPE = "WebhookInboxEvent"


@strawberry.federation.type(
    keys=["id"],
    description="An entry of the merchant's audit trail, or a webhook inbox event (actions "
    "WEBHOOK_RECEIVED, WEBHOOK_RETRYING, WEBHOOK_DONE, WEBHOOK_FAILED).",
)
class AuditLogEvent(Node):
    id: strawberry.ID = strawberry.field(
        description="Global ID. An audit entry's (gid://loyalnest/AuditLogEvent/...) can be "
        "refetched with `node(id:)`; a webhook inbox event's "
        "(gid://loyalnest/WebhookInboxEvent/...) names a live notification that is not "
        "stored, so `node(id:)` answers null for it."
    )
    action: AuditAction = strawberry.field(  # type: ignore[valid-type]
        description="What happened, such as WEBHOOK_RETRY."
    )
    actor_id: str | None = strawberry.field(
        description="Who did it (Shopify user or staff id); null for the system and Shopify."
    )
    metadata: JSON = strawberry.field(
        description="Details of the action; for webhook events: deliveryId (the delivery's "
        "global ID), topic, status, attempts and error."
    )
    created_at: datetime = strawberry.field(description="When it happened.")

    @classmethod
    def from_row(cls, row: AuditLog) -> AuditLogEvent | None:
        """The entry, or None for an action the API does not know (an old or foreign row)."""
        try:
            action = AuditAction(row.action)
        except ValueError:
            return None
        return cls(
            id=global_id(AUDIT_ENTRY_TYPE, row.id),
            action=action,
            actor_id=row.actor_id,
            metadata=JSON(row.metadata_),
            created_at=row.created_at,
        )

    @classmethod
    async def resolve_reference(cls, info: AdminInfo, id: strawberry.ID) -> AuditLogEvent | None:
        """A refetch by global ID: an audit entry, readable as the audit stream is
        (READ_AUDIT_LOG); None for a webhook inbox event (never stored)."""
        require(info.context.viewer, Capability.READ_AUDIT_LOG)
        if decode_global_id(id).type_name == WEBHOOK_INBOX_EVENT_TYPE:
            return None
        row = await info.context.loaders.audit_entry_by_id.load(local_id(id, AUDIT_ENTRY_TYPE))
        return None if row is None else cls.from_row(row)

    @classmethod
    def from_webhook_event(cls, event: WebhookEvent) -> AuditLogEvent:
        metadata = dict(event.metadata)
        delivery_id = metadata.get("deliveryId")
        if isinstance(delivery_id, str):
            # What a dashboard passes to webhookRetry, which takes the delivery's global ID.
            metadata["deliveryId"] = global_id("WebhookDelivery", delivery_id)
        return cls(
            id=global_id(WEBHOOK_INBOX_EVENT_TYPE, event.id),
            action=event.action,
            actor_id=None,
            metadata=JSON(metadata),
            created_at=event.received_at,
        )
