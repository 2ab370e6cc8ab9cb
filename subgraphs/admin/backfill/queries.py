"""Read entry points of the Shopify backfill."""

from __future__ import annotations

import strawberry

from subgraphs.admin.backfill.types import ShopifyBackfill
from subgraphs.admin.loaders import AdminInfo
from subgraphs.kit.permissions import Capability, require


@strawberry.type
class Query:
    @strawberry.field(
        description="The import of the viewer's shop's Shopify customers and order history "
        "(started at install): its progress, counts and outcome. Null before the first run. "
        "Needs the read_program capability."
    )
    async def shopify_backfill(self, info: AdminInfo) -> ShopifyBackfill | None:
        require(info.context.viewer, Capability.READ_PROGRAM)
        row = await info.context.loaders.backfill.backfill_of_merchant.load(
            info.context.viewer.merchant_id
        )
        return None if row is None else ShopifyBackfill.from_row(row)
