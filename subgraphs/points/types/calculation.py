"""Inputs and results of the points calculation and of earning."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import strawberry

from subgraphs.points.service import calculation
from subgraphs.points.service.program import Channel
from subgraphs.points.types.customer import Customer
from subgraphs.points.types.errors import PointsUserError
from subgraphs.points.types.ledger import DecisionStep, PointsTransaction
from subgraphs.points.types.program import SalesChannel

EarnAction = strawberry.enum(calculation.EarnAction, description="What the customer did.")


@strawberry.input(description="One line of an order.")
class OrderLineInput:
    id: str = strawberry.field(description="Shopify line item id.")
    quantity: int = strawberry.field(description="Units bought.")
    amount: Decimal = strawberry.field(
        description="What the shopper paid for the line after discounts, in the order currency."
    )


@strawberry.input(description="An order, as far as points are concerned.")
class OrderInput:
    id: str = strawberry.field(description="Shopify order id; an order earns once.")
    currency_code: str = strawberry.field(description="Presentment currency of the amounts.")
    lines: list[OrderLineInput] = strawberry.field(description="The order's lines.")
    channel: SalesChannel = strawberry.field(  # type: ignore[valid-type]
        default=Channel.ONLINE, description="Where it was placed."
    )
    placed_at: datetime | None = strawberry.field(
        default=None, description="When it was placed; defaults to now."
    )
    country_code: str | None = strawberry.field(
        default=None, description="Shipping country (ISO 3166-1 alpha-2), for regional campaigns."
    )

    def to_order(self) -> calculation.Order:
        return calculation.Order(
            order_id=self.id,
            currency=self.currency_code.upper(),
            lines=tuple(
                calculation.OrderLine(line.id, line.quantity, line.amount) for line in self.lines
            ),
            channel=Channel(self.channel),
            placed_at=self.placed_at or datetime.now(UTC),
            country_code=self.country_code.upper() if self.country_code else None,
        )


@strawberry.input(description="What to calculate points for.")
class PointsCalculateInput:
    customer_id: strawberry.ID = strawberry.field(description="Who would earn.")
    action: EarnAction = strawberry.field(  # type: ignore[valid-type]
        default=calculation.EarnAction.PURCHASE, description="What they did."
    )
    order: OrderInput | None = strawberry.field(
        default=None, description="The order, for PURCHASE."
    )


@strawberry.type(description="Points of one order line.")
class LinePoints:
    line_id: str = strawberry.field(description="Shopify line item id.")
    points: int = strawberry.field(description="Points the line earns (refunds take these).")


@strawberry.type(description="What an action or order earns, and why.")
class PointsCalculation:
    points: int = strawberry.field(description="Total points.")
    multiplier: Decimal = strawberry.field(description="Combined multiplier applied.")
    currency_code: str = strawberry.field(description="Currency of the order's amounts.")
    bonus_points: int = strawberry.field(description="Goal-spend bonus included in points.")
    lines: list[LinePoints] = strawberry.field(description="Points per order line.")
    explanation: list[DecisionStep] = strawberry.field(
        description="Every rule, campaign and multiplier applied or skipped, and why."
    )

    @classmethod
    def from_result(cls, result: calculation.Calculation) -> PointsCalculation:
        return cls(
            points=result.points,
            multiplier=result.multiplier,
            currency_code=result.currency,
            bonus_points=result.bonus_points,
            lines=[LinePoints(line_id=line.line_id, points=line.points) for line in result.lines],
            explanation=[DecisionStep.from_json(step.to_json()) for step in result.trace],
        )


@strawberry.type(description="Result of pointsCalculate.")
class PointsCalculatePayload:
    calculation: PointsCalculation | None = strawberry.field(description="The result.")
    user_errors: list[PointsUserError] = strawberry.field(description="Why it failed.")


@strawberry.input(description="Award points for an order or an action, by the program's rules.")
class PointsEarnInput:
    customer_id: strawberry.ID = strawberry.field(description="Who earns.")
    action: EarnAction = strawberry.field(  # type: ignore[valid-type]
        default=calculation.EarnAction.PURCHASE, description="What they did."
    )
    order: OrderInput | None = strawberry.field(default=None, description="For PURCHASE.")
    idempotency_key: str = strawberry.field(
        description="Your unique key for this award: retrying with it never awards twice."
    )
    reason: str | None = strawberry.field(
        default=None, description="Shown in the customer's history; defaults from the action."
    )


@strawberry.type(description="Result of a ledger mutation.")
class PointsTransactionPayload:
    transaction: PointsTransaction | None = strawberry.field(
        description="The ledger entry (the original one when the key was already used)."
    )
    customer: Customer | None = strawberry.field(description="The customer, with the new balance.")
    user_errors: list[PointsUserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="A staff correction of a customer's points.")
class PointsAdjustInput:
    customer_id: strawberry.ID = strawberry.field(description="Whose points.")
    points: int = strawberry.field(description="Signed change; the balance never goes below 0.")
    reason: str = strawberry.field(description="Why; kept in the ledger and the audit log.")
    idempotency_key: str = strawberry.field(description="Retrying with it never adjusts twice.")


@strawberry.input(description="A refunded order line.")
class RefundLineInput:
    line_id: str = strawberry.field(description="Shopify line item id.")
    quantity: int | None = strawberry.field(default=None, description="Units refunded.")
    amount: Decimal | None = strawberry.field(
        default=None, description="Amount refunded, order currency (exact for partial refunds)."
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
