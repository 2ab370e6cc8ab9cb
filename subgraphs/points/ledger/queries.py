"""What earning would give: the calculation, run without writing anything."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.graphql.node import local_id
from subgraphs.kit.permissions import Capability, require
from subgraphs.points.errors import PointsError, customer_not_found
from subgraphs.points.ledger import service as ledger
from subgraphs.points.ledger.types import (
    PointsCalculateInput,
    PointsCalculatePayload,
    PointsCalculation,
)
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.user_errors import PointsUserError


@strawberry.field(
    description="What an order or action would earn now, with the decision trace. "
    "Writes nothing; pointsEarn runs the same calculation."
)
async def points_calculate(
    info: PointsInfo,
    input: Annotated[
        PointsCalculateInput, strawberry.argument(description="Who would earn, and for what.")
    ],
) -> PointsCalculatePayload:
    # A simulation of the program's rules over one customer's facts: both are read.
    context = info.context
    require(context.viewer, Capability.READ_PROGRAM)
    require(context.viewer, Capability.READ_CUSTOMERS)
    customer = await context.loaders.customer_by_id.load(local_id(input.customer_id, "Customer"))
    try:
        if customer is None:
            raise customer_not_found()
        async with context.unit_of_work() as session:
            result = await ledger.preview_earn(
                session,
                context.viewer.merchant_id,
                customer=customer,
                action=input.action,
                order=input.order.to_order() if input.order else None,
                at=datetime.now(UTC),
            )
    except PointsError as error:
        return PointsCalculatePayload(user_errors=[PointsUserError.from_error(error)])
    return PointsCalculatePayload(calculation=PointsCalculation.from_result(result))


LedgerQuery = create_type("LedgerQuery", [points_calculate])
