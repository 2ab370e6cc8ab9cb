"""Read entry points of the admin subgraph."""

from __future__ import annotations

import strawberry

from subgraphs.admin.loaders import AdminInfo
from subgraphs.admin.types import Merchant


@strawberry.type
class Query:
    @strawberry.field(description="The viewer's merchant.")
    async def merchant(self, info: AdminInfo) -> Merchant | None:
        row = await info.context.loaders.merchant_by_id.load(info.context.viewer.merchant_id)
        return None if row is None else Merchant.from_row(row)
