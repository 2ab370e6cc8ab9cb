"""The program's settings and the calculation they drive."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from subgraphs.kit.permissions import Capability, require
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.service import ledger
from subgraphs.points.service.errors import PointsError, PointsErrorCode
from subgraphs.points.service.program import program_config_with_version
from subgraphs.points.types.calculation import (
    PointsCalculateInput,
    PointsCalculatePayload,
    PointsCalculation,
)
from subgraphs.points.types.errors import PointsUserError
from subgraphs.points.types.program import ProgramSettings


@strawberry.type
class ProgramQuery:
    @strawberry.field(description="The viewer's points program (defaults until first saved).")
    async def program_settings(self, info: PointsInfo) -> ProgramSettings:
        require(info.context.viewer, Capability.READ_PROGRAM)
        async with info.context.unit_of_work() as session:
            config, version = await program_config_with_version(
                session, info.context.viewer.merchant_id
            )
        return ProgramSettings.from_config(config, version)

    @strawberry.field(
        description="What an order or action would earn now, with the decision trace. "
        "Writes nothing; pointsEarn runs the same calculation."
    )
    async def points_calculate(
        self, info: PointsInfo, input: PointsCalculateInput
    ) -> PointsCalculatePayload:
        # A simulation of the program's rules over one customer's facts: both are read.
        require(info.context.viewer, Capability.READ_PROGRAM)
        require(info.context.viewer, Capability.READ_CUSTOMERS)
        customer = await info.context.loaders.customer_by_id.load(str(input.customer_id))
        try:
            if customer is None:
                raise PointsError(
                    PointsErrorCode.CUSTOMER_NOT_FOUND, "customerId", "customer not found"
                )
            async with info.context.unit_of_work() as session:
                result = await ledger.preview_earn(
                    session,
                    info.context.viewer.merchant_id,
                    customer=customer,
                    action=input.action,
                    order=input.order.to_order() if input.order else None,
                    at=datetime.now(UTC),
                )
        except PointsError as error:
            return PointsCalculatePayload(
                calculation=None, user_errors=[PointsUserError.from_error(error)]
            )
        return PointsCalculatePayload(
            calculation=PointsCalculation.from_result(result), user_errors=[]
        )
