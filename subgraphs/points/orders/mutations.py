"""Order reversals by hand (the webhooks and reconciliation reverse through the same path)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.permissions import Capability
from subgraphs.points.ledger.mutations import entry_payload
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.orders.reversal import reverse_order
from subgraphs.points.orders.types import PointsReverseInput, PointsReversePayload
from subgraphs.points.user_errors import points_mutation


@strawberry.mutation(
    description="Take back an order's points after a cancellation (no lines) or a refund "
    "(refunded lines, proportionally). Never takes the balance below zero."
)
async def points_reverse(
    info: PointsInfo,
    input: Annotated[
        PointsReverseInput,
        strawberry.argument(
            description="The order, its refunded lines (none: all of it), and the idempotency key."
        ),
    ],
) -> PointsReversePayload:
    return await points_mutation(
        info,
        PointsReversePayload,
        lambda scope: reverse_order(
            scope.session, scope.merchant_id, input.to_command(), now=scope.now
        ),
        lambda entry: entry_payload(info, entry, PointsReversePayload),
        capability=Capability.WRITE_POINTS,
    )


OrderMutation = create_type("OrderMutation", [points_reverse])
