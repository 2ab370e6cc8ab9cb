"""Earning and staff adjustments."""

from __future__ import annotations

from typing import Annotated, TypeVar

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.events import ledger_changed
from subgraphs.kit.permissions import Capability
from subgraphs.points.customers.service import customer_by_id
from subgraphs.points.customers.types import Customer
from subgraphs.points.ledger import service as ledger
from subgraphs.points.ledger.types import (
    LedgerPayload,
    PointsAdjustInput,
    PointsAdjustPayload,
    PointsEarnInput,
    PointsEarnPayload,
    PointsTransaction,
)
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.user_errors import points_mutation

LedgerPayloadT = TypeVar("LedgerPayloadT", bound=LedgerPayload)


async def entry_payload(
    info: PointsInfo, entry: ledger.LedgerEntry, payload: type[LedgerPayloadT]
) -> LedgerPayloadT:
    """After the commit of a ledger change: publish it, then answer with the customer as
    committed (the request's loader may hold the row read before the change)."""
    context = info.context
    merchant_id = context.viewer.merchant_id
    if not entry.replayed:
        await ledger_changed(
            context.resources,
            merchant_id,
            customer_id=entry.customer_id,
            transaction_id=entry.transaction.id,
        )
    async with context.unit_of_work() as session:
        customer = await customer_by_id(session, merchant_id, entry.customer_id)
    if customer is not None:
        context.loaders.customer_by_id.prime(customer.id, customer, force=True)
    return payload(
        transaction=PointsTransaction.from_row(entry.transaction),
        customer=None if customer is None else Customer.from_row(customer),
    )


@strawberry.mutation(
    description="Award points for an order or an action by the program's rules, once per "
    "idempotencyKey (and once per order). The entry keeps the decision trace."
)
async def points_earn(
    info: PointsInfo,
    input: Annotated[
        PointsEarnInput,
        strawberry.argument(description="Who earns, for what, and the idempotency key."),
    ],
) -> PointsEarnPayload:
    return await points_mutation(
        info,
        PointsEarnPayload,
        lambda scope: ledger.earn(
            scope.session, scope.merchant_id, input.to_command(), now=scope.now
        ),
        lambda entry: entry_payload(info, entry, PointsEarnPayload),
        capability=Capability.WRITE_POINTS,
    )


@strawberry.mutation(description="Correct a customer's points by hand; audited with who and why.")
async def points_adjust(
    info: PointsInfo,
    input: Annotated[
        PointsAdjustInput,
        strawberry.argument(
            description="Whose points, the signed change, why, and the idempotency key."
        ),
    ],
) -> PointsAdjustPayload:
    return await points_mutation(
        info,
        PointsAdjustPayload,
        lambda scope: ledger.adjust(
            scope.session, scope.merchant_id, input.to_command(scope.actor_id), now=scope.now
        ),
        lambda entry: entry_payload(info, entry, PointsAdjustPayload),
        capability=Capability.WRITE_POINTS,
    )


LedgerMutation = create_type("LedgerMutation", [points_earn, points_adjust])
