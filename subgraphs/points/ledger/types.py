"""The ledger as clients see it: entries, the decision trace that explains each one, and the
inputs and results of earning, adjusting and of the calculation's preview (pointsCalculate)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from db.models import PointsTransaction as PointsTransactionRow
from subgraphs.kit.graphql.codes import CountryCode, CurrencyCode, code_of, currency
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.fields import from_attributes
from subgraphs.kit.graphql.input_checks import decimal_digits
from subgraphs.kit.graphql.node import NODE_ID_DESCRIPTION, global_id, local_id
from subgraphs.kit.graphql.user_errors import user_errors_field
from subgraphs.kit.permissions import require_customer_access
from subgraphs.points.ledger.service import AdjustCommand, EarnCommand
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.program import calculation
from subgraphs.points.program.service import Channel
from subgraphs.points.program.types import SalesChannel
from subgraphs.points.user_errors import PointsUserError

if TYPE_CHECKING:
    from subgraphs.points.customers.types import Customer


@strawberry.enum(description="What caused a change of points.")
class PointsTransactionKind(enum.Enum):
    EARN = strawberry.enum_value("earn", description="Points earned for an order or an action.")
    REDEEM = strawberry.enum_value("redeem", description="Points spent on a reward.")
    EXPIRE = strawberry.enum_value("expire", description="Points that expired unused.")
    ADJUST = strawberry.enum_value("adjust", description="A manual correction by the merchant.")
    IMPORT = strawberry.enum_value("import", description="Points imported from another program.")
    REFERRAL = strawberry.enum_value("referral", description="Points for a successful referral.")
    CAMPAIGN = strawberry.enum_value("campaign", description="Points from a bonus campaign.")
    REVERSE = strawberry.enum_value(
        "reverse", description="Points taken back after a cancellation or refund."
    )
    REFUND = strawberry.enum_value(
        "refund", description="Points returned after a redemption could not be fulfilled."
    )


@strawberry.type(description="One rule, campaign or multiplier a decision considered.")
class DecisionStep:
    rule: str = strawberry.field(
        description="Which rule: e.g. purchase, rfm_multiplier, campaign:<name> (see "
        "campaignName), line:<line id>, clawback."
    )
    applied: bool = strawberry.field(description="Whether it changed the result.")
    detail: str = strawberry.field(description="Why it applied or was skipped, for people.")
    points: int | None = strawberry.field(description="Points it contributed, if any.")
    multiplier: Decimal | None = strawberry.field(description="Multiplier it applied, if any.")
    campaign_name: str | None = strawberry.field(
        default=None,
        description="The campaign a campaign step considered (its name when the decision was "
        "made; `rule` is then campaign:<name>); null for other steps.",
    )

    @classmethod
    def from_json(cls, step: dict[str, Any]) -> DecisionStep:
        multiplier = step.get("multiplier")
        rule = str(step["rule"])
        prefix, separator, campaign = rule.partition(":")
        return cls(
            campaign_name=campaign if separator and prefix == "campaign" else None,
            rule=rule,
            applied=bool(step["applied"]),
            detail=str(step["detail"]),
            points=step.get("points"),
            multiplier=None if multiplier is None else Decimal(str(multiplier)),
        )


def decision_steps(explanation: dict[str, Any]) -> list[DecisionStep]:
    return [DecisionStep.from_json(step) for step in explanation.get("trace", [])]


@strawberry.federation.type(keys=["id"], description="One entry of a customer's points ledger.")
class PointsTransaction:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    kind: PointsTransactionKind = strawberry.field(description="What caused this change.")
    points: int = strawberry.field(
        description="Signed change of the balance: positive credits, negative debits. One "
        "entry moves at most MAX_POINTS_PER_TRANSACTION (1,000,000) points either way."
    )
    reason: str = strawberry.field(description="Why, in the merchant's words or the system's.")
    source: str | None = strawberry.field(
        description="What produced it, as free text: purchase, signup, staff, redemption, "
        "refund, expiry...",
        deprecation_reason="Use `kind` (an enum): `source` repeats it as free text and will "
        "be removed.",
    )
    order_id: str | None = strawberry.field(description="The Shopify order, when there is one.")
    expires_at: datetime | None = strawberry.field(
        description="When the points of this credit expire, under the program's policy."
    )
    created_at: datetime = strawberry.field(description="When the change was recorded.")
    explanation: list[DecisionStep] = strawberry.field(
        description="The decision trace: every rule, campaign and multiplier applied or "
        "skipped, and why. Answers 'why did this order earn 0 points?'."
    )

    @classmethod
    def from_row(cls, row: PointsTransactionRow) -> PointsTransaction:
        return from_attributes(
            cls,
            row,
            id=global_id("PointsTransaction", row.id),
            kind=PointsTransactionKind(row.kind),
            explanation=decision_steps(row.explanation),
        )

    @classmethod
    async def resolve_reference(
        cls, info: PointsInfo, id: strawberry.ID
    ) -> PointsTransaction | None:
        """A refetch by global ID: readable by whoever may read the customer's ledger."""
        row = await info.context.loaders.transaction_by_id.load(local_id(id, "PointsTransaction"))
        if row is None:
            return None
        require_customer_access(info.context.viewer, row.customer_id)
        return cls.from_row(row)


def transaction_position(row: PointsTransactionRow) -> tuple[str, str]:
    return (row.created_at.isoformat(), row.id)


EarnAction = domain_enum(
    calculation.EarnAction,
    name="EarnAction",
    description="What the customer did.",
    values={
        "PURCHASE": "Placed an order: points per unit spent, by the program's rules; needs "
        "the order.",
        "SIGNUP": "Created an account.",
        "NEWSLETTER": "Signed up for the newsletter.",
        "REVIEW": "Wrote a product review.",
        "BIRTHDAY": "Has a birthday.",
        "SOCIAL_FOLLOW": "Followed the shop on social media.",
    },
)


@strawberry.input(description="One line of an order.")
class OrderLineInput:
    id: str = strawberry.field(description="Shopify line item id.")
    quantity: int = strawberry.field(description="Units bought.")
    amount: Decimal = strawberry.field(
        description="What the shopper paid for the line after discounts, in the order currency: "
        "at most 11 digits before the point and 3 after.",
        # Order amounts: cents, or mils in the three-decimal currencies (KWD, BHD...).
        metadata=decimal_digits(14, 3),
    )


@strawberry.input(description="An order, as far as points are concerned.")
class OrderInput:
    id: str = strawberry.field(description="Shopify order id; an order earns once.")
    currency_code: CurrencyCode = strawberry.field(
        description="Presentment currency of the amounts."
    )
    lines: list[OrderLineInput] = strawberry.field(description="The order's lines.")
    channel: SalesChannel = strawberry.field(  # type: ignore[valid-type]
        default=Channel.ONLINE, description="Where it was placed."
    )
    placed_at: datetime | None = strawberry.field(
        default=None, description="When it was placed; defaults to now."
    )
    country_code: CountryCode | None = strawberry.field(
        default=None, description="Shipping country (ISO 3166-1 alpha-2), for regional campaigns."
    )

    def to_order(self) -> calculation.Order:
        return calculation.Order(
            order_id=self.id,
            currency=self.currency_code.value,
            lines=tuple(
                calculation.OrderLine(line.id, line.quantity, line.amount) for line in self.lines
            ),
            channel=Channel(self.channel),
            placed_at=self.placed_at or datetime.now(UTC),
            country_code=code_of(self.country_code),
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
    currency_code: CurrencyCode = strawberry.field(description="Currency of the order's amounts.")
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
            currency_code=currency(result.currency),
            bonus_points=result.bonus_points,
            lines=[LinePoints(line_id=line.line_id, points=line.points) for line in result.lines],
            explanation=[DecisionStep.from_json(step.to_json()) for step in result.trace],
        )


@strawberry.type(description="Result of pointsCalculate.")
class PointsCalculatePayload:
    calculation: PointsCalculation | None = strawberry.field(
        default=None, description="The result."
    )
    user_errors: list[PointsUserError] = user_errors_field("Why it failed.")


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

    def to_command(self) -> EarnCommand:
        return EarnCommand(
            customer_id=local_id(self.customer_id, "Customer"),
            action=self.action,
            idempotency_key=self.idempotency_key,
            order=self.order.to_order() if self.order else None,
            reason=self.reason,
        )


@strawberry.type(description="Result of a ledger mutation.")
class LedgerPayload:
    """The fields every ledger mutation's payload has; each mutation has its own subclass, so
    a payload can grow a field for one mutation without changing the others. Never exposed
    itself (no field returns it)."""

    transaction: PointsTransaction | None = strawberry.field(
        default=None,
        description="The ledger entry (the original one when the key was already used).",
    )
    customer: Annotated[Customer, strawberry.lazy("subgraphs.points.customers.types")] | None = (
        strawberry.field(default=None, description="The customer, with the new balance.")
    )
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.type(description="Result of pointsEarn.")
class PointsEarnPayload(LedgerPayload):
    pass


@strawberry.type(description="Result of pointsAdjust.")
class PointsAdjustPayload(LedgerPayload):
    pass


@strawberry.input(description="A staff correction of a customer's points.")
class PointsAdjustInput:
    customer_id: strawberry.ID = strawberry.field(description="Whose points.")
    points: int = strawberry.field(
        description="Signed change, between -1,000,000 and 1,000,000 and not 0; the balance "
        "never goes below 0."
    )
    reason: str = strawberry.field(description="Why; kept in the ledger and the audit log.")
    idempotency_key: str = strawberry.field(description="Retrying with it never adjusts twice.")

    def to_command(self, actor_id: str | None) -> AdjustCommand:
        return AdjustCommand(
            customer_id=local_id(self.customer_id, "Customer"),
            points=self.points,
            reason=self.reason,
            idempotency_key=self.idempotency_key,
            actor_id=actor_id,
        )
