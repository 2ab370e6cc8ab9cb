"""Customers and their points."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.graphql.relay import (
    AfterArgument,
    Connection,
    FirstArgument,
    page_request,
    to_connection,
)
from subgraphs.kit.permissions import Capability, require, require_customer_access
from subgraphs.points.customers.service import parse_customer_query
from subgraphs.points.customers.types import Customer, customer_position
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.user_errors import bad_user_input

CustomerSearchArgument = Annotated[
    str,
    strawberry.argument(
        description="Filter, Shopify style: email:ann@example.com points_balance:>=500 "
        "total_spent:>=100 tier:<id> segment:Champions (terms combine with AND)."
    ),
]


@strawberry.field(description="One of the viewer's customers; null if there is no such customer.")
async def customer(
    info: PointsInfo,
    id: Annotated[strawberry.ID, strawberry.argument(description="The customer's LoyalNest id.")],
) -> Customer | None:
    require_customer_access(info.context.viewer, str(id))
    row = await info.context.loaders.customer_by_id.load(str(id))
    return None if row is None else Customer.from_row(row)


@strawberry.field(description="The viewer's customers, oldest first.")
async def customers(
    info: PointsInfo,
    first: FirstArgument = None,
    after: AfterArgument = None,
    query: CustomerSearchArgument = "",
) -> Connection[Customer]:
    require(info.context.viewer, Capability.READ_CUSTOMERS)
    with bad_user_input():
        parse_customer_query(query, info.context.resources.cipher)
    page = await info.context.loaders.customers_page.load((page_request(first, after), query))
    return to_connection(page, position=customer_position, node=Customer.from_row)


CustomerQuery = create_type("CustomerQuery", [customer, customers])
