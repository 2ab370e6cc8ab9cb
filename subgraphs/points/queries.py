"""Read entry points of the points subgraph."""

from __future__ import annotations

import strawberry

from subgraphs.kit.relay import (
    AfterArgument,
    Connection,
    FirstArgument,
    page_request,
    to_connection,
)
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.types import Customer, customer_position


@strawberry.type
class Query:
    @strawberry.field(
        description="One of the viewer's customers; null if there is no such customer."
    )
    async def customer(self, info: PointsInfo, id: strawberry.ID) -> Customer | None:
        row = await info.context.loaders.customer_by_id.load(str(id))
        return None if row is None else Customer.from_row(row)

    @strawberry.field(description="The viewer's customers, oldest first.")
    async def customers(
        self,
        info: PointsInfo,
        first: FirstArgument = None,
        after: AfterArgument = None,
    ) -> Connection[Customer]:
        page = await info.context.loaders.customers_page.load(page_request(first, after))
        return to_connection(page, position=customer_position, node=Customer.from_row)
