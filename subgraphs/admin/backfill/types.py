"""GraphQL types of the Shopify backfill: where a shop's import of its Shopify history stands."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db.models import BackfillStatus, BackfillStep
from db.models import ShopifyBackfill as ShopifyBackfillRow
from subgraphs.admin.backfill import service
from subgraphs.kit.graphql.domain import DisplayableError, domain_enum
from subgraphs.kit.graphql.scalars import UnsignedInt64

ShopifyBackfillStatus = domain_enum(
    BackfillStatus,
    name="ShopifyBackfillStatus",
    description="Where a Shopify backfill stands.",
    values={
        "QUEUED": "Waiting for a worker to start or continue it.",
        "RUNNING": "Reading the shop's data from Shopify and importing it.",
        "COMPLETED": "Every customer and order read is imported and scored.",
        "FAILED": "Stopped by an error (see `error`); `shopifyBackfillStart` runs it again.",
        "STOPPED": "Stopped because the shop uninstalled LoyalNest.",
    },
)
ShopifyBackfillStep = domain_enum(
    BackfillStep,
    name="ShopifyBackfillStep",
    description="The steps of a Shopify backfill, in order.",
    values={
        "CUSTOMERS": "Importing the shop's customers.",
        "ORDERS": "Importing the last two years of orders as order facts.",
        "SCORING": "Computing every customer's RFM scores and segment from those orders.",
    },
)
ShopifyBackfillErrorCode = domain_enum(
    service.BackfillErrorCode,
    name="ShopifyBackfillErrorCode",
    description="Why a Shopify backfill could not be started.",
    values={
        "ALREADY_RUNNING": "A backfill is queued or running: wait for it to finish.",
        "SHOP_NOT_CONNECTED": "LoyalNest has no Admin API access to the shop (uninstalled, "
        "or never installed through Shopify): install it again first.",
        "REASON_TOO_LONG": "The reason is longer than 500 characters.",
    },
)


@strawberry.type(description="An expected failure of `shopifyBackfillStart`.")
class ShopifyBackfillUserError(DisplayableError):
    code: ShopifyBackfillErrorCode = strawberry.field(description="What went wrong, for programs.")  # type: ignore[valid-type]

    def __post_init__(self) -> None:
        # These errors are about the request, not one input field.
        if self.field == ["input", ""]:
            self.field = None


@strawberry.type(
    description="The import of a shop's Shopify customers and last two years of orders, run "
    "once at install (and again on request) so loyalty analytics and RFM segments start "
    "from the shop's history, not from zero."
)
class ShopifyBackfill:
    status: ShopifyBackfillStatus = strawberry.field(description="Where it stands.")  # type: ignore[valid-type]
    step: ShopifyBackfillStep = strawberry.field(  # type: ignore[valid-type]
        description="The step it is at (the last one it reached, once finished)."
    )
    customers_imported: UnsignedInt64 = strawberry.field(
        description="Shopify customers now in the loyalty program from this run (created, "
        "linked to an existing customer by email, or found already enrolled)."
    )
    orders_imported: UnsignedInt64 = strawberry.field(
        description="Orders of the last two years recorded as order facts by this run."
    )
    orders_since: datetime = strawberry.field(description="The oldest order date it reads.")
    started_at: datetime = strawberry.field(description="When this run was started.")
    finished_at: datetime | None = strawberry.field(
        description="When it completed, failed or stopped; null while under way."
    )
    error: str | None = strawberry.field(description="Why it failed or stopped; null otherwise.")

    @classmethod
    def from_row(cls, row: ShopifyBackfillRow) -> ShopifyBackfill:
        return cls(
            status=ShopifyBackfillStatus(row.status),
            step=ShopifyBackfillStep(row.step),
            customers_imported=UnsignedInt64(row.customers_imported),
            orders_imported=UnsignedInt64(row.orders_imported),
            orders_since=row.orders_since,
            started_at=row.started_at,
            finished_at=row.finished_at,
            error=row.error,
        )
