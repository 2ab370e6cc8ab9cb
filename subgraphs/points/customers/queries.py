"""Customers and their points."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.graphql.node import local_id
from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.pagination import PageRequest
from subgraphs.kit.permissions import Capability, require, require_customer_access
from subgraphs.points.customers.repository import customer_position
from subgraphs.points.customers.types import Customer, CustomerSortKey
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.user_errors import bad_user_input

CustomerSearchArgument = Annotated[
    str,
    strawberry.argument(
        description="Filter, Shopify style: email:ann@example.com points_balance:>=500 "
        "total_spent:>=100 tier:<VipTier id> segment:Champions (terms combine with AND)."
    ),
]


@strawberry.field(description="One of the viewer's customers; null if there is no such customer.")
async def customer(
    info: PointsInfo,
    id: Annotated[strawberry.ID, strawberry.argument(description="The customer's global ID.")],
) -> Customer | None:
    customer_id = local_id(id, "Customer")
    require_customer_access(info.context.viewer, customer_id)
    row = await info.context.loaders.customer_by_id.load(customer_id)
    return None if row is None else Customer.from_row(row)


CustomerSortKeyArgument = Annotated[
    CustomerSortKey,
    strawberry.argument(description="The order of the list, ascending unless `reverse`."),
]


@strawberry.field(
    description="The viewer's customers in `sortKey` order, ascending unless `reverse` (by "
    "default by id: oldest first)."
)
@paged()
async def customers(
    info: PointsInfo,
    paging: PageRequest,
    sort_key: CustomerSortKeyArgument = CustomerSortKey.ID,
    query: CustomerSearchArgument = "",
) -> Connection[Customer]:
    require(info.context.viewer, Capability.READ_CUSTOMERS)
    with bad_user_input():
        info.context.loaders.customer_filters(query)
    sort = str(sort_key.value)
    page = await info.context.loaders.customers_page.load((paging, query, sort))
    return to_connection(
        page, position=lambda row: customer_position(row, sort), node=Customer.from_row
    )


CustomerQuery = create_type("CustomerQuery", [customer, customers])
