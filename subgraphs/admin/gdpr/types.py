"""GraphQL types of the GDPR domain."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.scalars import JSON

from db.models import GdprRequest as GdprRequestRow
from subgraphs.admin.gdpr import service
from subgraphs.admin.gdpr.downloads import signed_download
from subgraphs.admin.loaders import AdminInfo
from subgraphs.admin.nodes.types import Node
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.fields import from_attributes
from subgraphs.kit.graphql.node import global_id, local_id
from subgraphs.kit.permissions import Capability, require

GdprRequestType = domain_enum(
    service.GdprRequestType,
    name="GdprRequestType",
    description="What was asked for under GDPR or CCPA (by Shopify, or filed by the merchant).",
    values={
        "DATA_REQUEST": "customers/data_request: export a customer's data.",
        "CUSTOMER_REDACT": "customers/redact: erase a customer's data.",
        "SHOP_REDACT": "shop/redact: erase the shop's data after uninstall.",
        "CCPA_OPT_OUT": "A CCPA opt-out of the sale of personal data, filed by the merchant: "
        "the customer's newsletter and RFM tracking consents are revoked.",
    },
)
GdprRequestStatus = domain_enum(
    service.GdprRequestStatus,
    name="GdprRequestStatus",
    description="Where a GDPR request stands.",
    values={
        "PENDING": "Received, being carried out: a data request's export is being built "
        "by a background job.",
        "COMPLETED": "Carried out.",
        "FAILED": "Could not be carried out; see error.",
    },
)


@strawberry.type(description="A short-lived link to a data request's export.")
class GdprExportDownload:
    url: str = strawberry.field(description="GET it for the export, a JSON file.")
    expires_at: datetime = strawberry.field(description="When the link stops working.")


@strawberry.federation.type(
    keys=["id"],
    description="A GDPR request from Shopify, kept as the record that it was carried out.",
)
class GdprRequest(Node):
    request_id: strawberry.Private[str]
    type: GdprRequestType = strawberry.field(description="What was asked for.")  # type: ignore[valid-type]
    status: GdprRequestStatus = strawberry.field(description="Where the request stands.")  # type: ignore[valid-type]
    shopify_customer_id: str | None = strawberry.field(
        description="The Shopify customer concerned; null for shop/redact."
    )
    created_at: datetime = strawberry.field(description="When the request was received.")
    completed_at: datetime | None = strawberry.field(description="When it was carried out.")
    retention_expires_at: datetime = strawberry.field(
        description="When this record (and any export) is deleted."
    )
    error: str | None = strawberry.field(description="Why it failed, if it did.")
    merchant_notified_at: datetime | None = strawberry.field(
        description="When the shop was told the request was carried out: on its Slack alert "
        "channel when it has one (the referral program's alert webhook), here either way. "
        "Null until then (within a minute or two of completion)."
    )

    @strawberry.field(
        description="A data request's export: everything LoyalNest holds about the customer, "
        "to hand over to them. Null for other types and once a later redact erased it. Needs "
        "the read_gdpr capability.",
        deprecation_reason="Use `exportDownload`: the export grows with the customer's "
        "ledger, so it is handed out as a short-lived download link.",
    )
    async def export(self, info: AdminInfo) -> JSON | None:
        require(info.context.viewer, Capability.READ_GDPR)
        if self.type is not GdprRequestType.DATA_REQUEST:
            return None
        export = await info.context.loaders.gdpr.gdpr_export_by_id.load(self.request_id)
        return None if export is None else JSON(export)

    @strawberry.field(
        description="A link to download a data request's export as a JSON file: good for "
        "one download within 15 minutes (a second use is refused with 410 Gone): ask again "
        "for a fresh one. Null for other types, while the export is being built (PENDING) "
        "and once a later redact erased it. Needs the read_gdpr capability."
    )
    async def export_download(self, info: AdminInfo) -> GdprExportDownload | None:
        require(info.context.viewer, Capability.READ_GDPR)
        if self.type is not GdprRequestType.DATA_REQUEST:
            return None
        if await info.context.loaders.gdpr.gdpr_export_by_id.load(self.request_id) is None:
            return None
        settings = info.context.resources.settings
        download = signed_download(
            settings.app_url,
            settings.token_secret,
            info.context.viewer.merchant_id,
            self.request_id,
            now=datetime.now(UTC),
        )
        return GdprExportDownload(url=download.url, expires_at=download.expires_at)

    @classmethod
    def from_row(cls, row: GdprRequestRow) -> GdprRequest:
        return from_attributes(
            cls,
            row,
            id=global_id("GdprRequest", row.id),
            request_id=row.id,
            type=GdprRequestType(row.request_type),
            status=GdprRequestStatus(row.status),
        )

    @classmethod
    async def resolve_reference(cls, info: AdminInfo, id: strawberry.ID) -> GdprRequest | None:
        """A refetch by global ID: readable as ``gdprRequests`` is (READ_GDPR)."""
        require(info.context.viewer, Capability.READ_GDPR)
        row = await info.context.loaders.gdpr.gdpr_request_by_id.load(local_id(id, "GdprRequest"))
        return None if row is None else cls.from_row(row)
