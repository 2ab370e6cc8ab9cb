"""Read entry points of the merchants domain."""

from __future__ import annotations

import strawberry

from subgraphs.admin.loaders import AdminInfo
from subgraphs.admin.merchants.types import Merchant
from subgraphs.kit.permissions import Capability, require


@strawberry.type
class Query:
    @strawberry.field(description="The viewer's merchant.")
    async def merchant(self, info: AdminInfo) -> Merchant | None:
        # Any role that reads the program may see whose it is; it is also the way to the
        # merchant's loyaltyMetrics, which check READ_ANALYTICS themselves.
        require(info.context.viewer, Capability.READ_PROGRAM)
        row = await info.context.loaders.merchants.merchant_by_id.load(
            info.context.viewer.merchant_id
        )
        return None if row is None else Merchant.from_row(row)
