"""Write entry points of the points subgraph: unpack input, call the service, shape the payload."""

from __future__ import annotations

import strawberry

from subgraphs.kit.events import ledger_changed
from subgraphs.points import service
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.types import (
    Customer,
    PointsEarnInput,
    PointsEarnPayload,
    PointsErrorCode,
    PointsTransaction,
    PointsUserError,
)


def _user_error(error: service.PointsError) -> PointsUserError:
    return PointsUserError(
        field=["input", error.field], message=error.message, code=PointsErrorCode(error.code.value)
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Award points once per idempotencyKey.")
    async def points_earn(self, info: PointsInfo, input: PointsEarnInput) -> PointsEarnPayload:
        context = info.context
        command = service.EarnPoints(
            customer_id=str(input.customer_id),
            points=input.points,
            reason=input.reason,
            idempotency_key=input.idempotency_key,
        )
        try:
            async with context.unit_of_work() as session:
                entry = await service.earn_points(session, context.viewer.merchant_id, command)
        except service.PointsError as error:
            return PointsEarnPayload(
                transaction=None, customer=None, user_errors=[_user_error(error)]
            )
        if not entry.replayed:
            await ledger_changed(
                context.resources,
                context.viewer.merchant_id,
                customer_id=command.customer_id,
                transaction_id=entry.transaction.id,
            )
        return PointsEarnPayload(
            transaction=PointsTransaction.from_row(entry.transaction),
            customer=Customer(id=input.customer_id, points_balance=entry.balance),
            user_errors=[],
        )
