"""Order reversals as GraphQL: what pointsReverse takes back, and what it answers."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from subgraphs.kit.graphql.input_checks import decimal_digits
from subgraphs.points.ledger.types import LedgerPayload
from subgraphs.points.orders.reversal import RefundLine, ReverseCommand


@strawberry.input(description="A refunded order line.")
class RefundLineInput:
    line_id: str = strawberry.field(description="Shopify line item id.")
    quantity: int | None = strawberry.field(default=None, description="Units refunded.")
    amount: Decimal | None = strawberry.field(
        default=None,
        description="Amount refunded, order currency (exact for partial refunds): at most 11 "
        "digits before the point and 3 after.",
        metadata=decimal_digits(14, 3),
    )


@strawberry.input(description="Take back an order's points.")
class PointsReverseInput:
    order_id: str = strawberry.field(description="Shopify order id.")
    idempotency_key: str = strawberry.field(
        description="e.g. refund:<refund id> or order:<id>:cancel; retries never take twice."
    )
    lines: list[RefundLineInput] | None = strawberry.field(
        default=None, description="Refunded lines; omit to reverse the whole order (cancellation)."
    )
    reason: str = strawberry.field(default="order cancelled", description="Shown in history.")

    def to_command(self) -> ReverseCommand:
        lines = None
        if self.lines is not None:
            lines = tuple(
                RefundLine(line.line_id, quantity=line.quantity, amount=line.amount)
                for line in self.lines
            )
        return ReverseCommand(
            order_id=self.order_id,
            idempotency_key=self.idempotency_key,
            lines=lines,
            reason=self.reason,
        )


@strawberry.type(description="Result of pointsReverse.")
class PointsReversePayload(LedgerPayload):
    pass
