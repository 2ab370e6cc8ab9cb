"""Earning, staff adjustments and order reversals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.kit.events import ledger_changed
from subgraphs.kit.permissions import Capability, require
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.repository.customers import CustomerRepository
from subgraphs.points.service import ledger
from subgraphs.points.service.errors import PointsError
from subgraphs.points.types.calculation import (
    PointsAdjustInput,
    PointsEarnInput,
    PointsReverseInput,
    PointsTransactionPayload,
)
from subgraphs.points.types.customer import Customer
from subgraphs.points.types.errors import PointsUserError
from subgraphs.points.types.ledger import PointsTransaction


async def _run(
    info: PointsInfo,
    operation: Callable[[AsyncSession, str, datetime], Awaitable[ledger.LedgerEntry]],
) -> PointsTransactionPayload:
    context = info.context
    merchant_id = context.viewer.merchant_id
    try:
        async with context.unit_of_work() as session:
            entry = await operation(session, merchant_id, datetime.now(UTC))
    except PointsError as error:
        return PointsTransactionPayload(
            transaction=None, customer=None, user_errors=[PointsUserError.from_error(error)]
        )
    if not entry.replayed:
        await ledger_changed(
            context.resources,
            merchant_id,
            customer_id=entry.customer_id,
            transaction_id=entry.transaction.id,
        )
    # The loader may hold the row read before this change: read the committed one.
    async with context.unit_of_work() as session:
        rows = await CustomerRepository(session, merchant_id).customers_by_ids([entry.customer_id])
    customer = rows[0] if rows else None
    if customer is not None:
        context.loaders.customer_by_id.prime(customer.id, customer, force=True)
    return PointsTransactionPayload(
        transaction=PointsTransaction.from_row(entry.transaction),
        customer=None if customer is None else Customer.from_row(customer),
        user_errors=[],
    )


@strawberry.type
class LedgerMutation:
    @strawberry.mutation(
        description="Award points for an order or an action by the program's rules, once per "
        "idempotencyKey (and once per order). The entry keeps the decision trace."
    )
    async def points_earn(
        self, info: PointsInfo, input: PointsEarnInput
    ) -> PointsTransactionPayload:
        require(info.context.viewer, Capability.WRITE_POINTS)
        command = ledger.EarnCommand(
            customer_id=str(input.customer_id),
            action=input.action,
            idempotency_key=input.idempotency_key,
            order=input.order.to_order() if input.order else None,
            reason=input.reason,
        )
        return await _run(
            info,
            lambda session, merchant_id, now: ledger.earn(session, merchant_id, command, now=now),
        )

    @strawberry.mutation(
        description="Correct a customer's points by hand; audited with who and why."
    )
    async def points_adjust(
        self, info: PointsInfo, input: PointsAdjustInput
    ) -> PointsTransactionPayload:
        require(info.context.viewer, Capability.WRITE_POINTS)
        command = ledger.AdjustCommand(
            customer_id=str(input.customer_id),
            points=input.points,
            reason=input.reason,
            idempotency_key=input.idempotency_key,
            actor_id=info.context.viewer.user_id,
        )
        return await _run(
            info,
            lambda session, merchant_id, now: ledger.adjust(session, merchant_id, command, now=now),
        )

    @strawberry.mutation(
        description="Take back an order's points after a cancellation (no lines) or a refund "
        "(refunded lines, proportionally). Never takes the balance below zero."
    )
    async def points_reverse(
        self, info: PointsInfo, input: PointsReverseInput
    ) -> PointsTransactionPayload:
        require(info.context.viewer, Capability.WRITE_POINTS)
        command = ledger.ReverseCommand(
            order_id=input.order_id,
            idempotency_key=input.idempotency_key,
            lines=None
            if input.lines is None
            else tuple(
                ledger.RefundLine(line.line_id, quantity=line.quantity, amount=line.amount)
                for line in input.lines
            ),
            reason=input.reason,
        )
        return await _run(
            info,
            lambda session, merchant_id, now: ledger.reverse_order(
                session, merchant_id, command, now=now
            ),
        )
