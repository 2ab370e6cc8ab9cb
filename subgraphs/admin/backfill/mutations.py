"""Write entry points of the Shopify backfill."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db.models import ShopifyBackfill as ShopifyBackfillRow
from subgraphs.admin.backfill import service
from subgraphs.admin.backfill.types import ShopifyBackfill, ShopifyBackfillUserError
from subgraphs.admin.loaders import AdminInfo
from subgraphs.kit.graphql.mutations import run_mutation
from subgraphs.kit.permissions import Capability


@strawberry.input(description="Run the Shopify backfill again.")
class ShopifyBackfillStartInput:
    reason: str | None = strawberry.field(
        default=None,
        description="Why it is run again (kept in the log; at most 500 characters).",
    )


@strawberry.type(description="Result of `shopifyBackfillStart`.")
class ShopifyBackfillStartPayload:
    shopify_backfill: ShopifyBackfill | None = strawberry.field(
        default=None, description="The new run, queued; null when refused."
    )
    user_errors: list[ShopifyBackfillUserError] = strawberry.field(
        default_factory=list, description="Why no run was started."
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Import the shop's Shopify customers and last two years of orders again, "
        "from the start (what is already imported is updated, never doubled), then score "
        "RFM. Refused while a run is under way. Needs the manage_merchant capability."
    )
    async def shopify_backfill_start(
        self,
        info: AdminInfo,
        input: Annotated[
            ShopifyBackfillStartInput, strawberry.argument(description="Why it is run again.")
        ],
    ) -> ShopifyBackfillStartPayload:
        resources = info.context.resources

        async def respond(row: ShopifyBackfillRow) -> ShopifyBackfillStartPayload:
            # Committed: now the worker may pick it up.
            await service.enqueue_backfill(resources.redis, row.merchant_id)
            return ShopifyBackfillStartPayload(shopify_backfill=ShopifyBackfill.from_row(row))

        return await run_mutation(
            info,
            capability=Capability.MANAGE_MERCHANT,
            perform=lambda scope: service.start_again(
                scope.session, scope.merchant_id, now=scope.now, reason=input.reason
            ),
            respond=respond,
            payload=ShopifyBackfillStartPayload,
            user_error=ShopifyBackfillUserError,
        )
