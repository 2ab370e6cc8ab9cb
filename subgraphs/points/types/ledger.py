"""The ledger as clients see it: entries and the decision trace that explains each one."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from db.models import PointsTransaction as PointsTransactionRow


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
        description="Which rule: e.g. purchase, rfm_multiplier, campaign:<name>, clawback."
    )
    applied: bool = strawberry.field(description="Whether it changed the result.")
    detail: str = strawberry.field(description="Why it applied or was skipped, for people.")
    points: int | None = strawberry.field(description="Points it contributed, if any.")
    multiplier: Decimal | None = strawberry.field(description="Multiplier it applied, if any.")

    @classmethod
    def from_json(cls, step: dict[str, Any]) -> DecisionStep:
        multiplier = step.get("multiplier")
        return cls(
            rule=str(step["rule"]),
            applied=bool(step["applied"]),
            detail=str(step["detail"]),
            points=step.get("points"),
            multiplier=None if multiplier is None else Decimal(str(multiplier)),
        )


def decision_steps(explanation: dict[str, Any]) -> list[DecisionStep]:
    return [DecisionStep.from_json(step) for step in explanation.get("trace", [])]


@strawberry.type(description="One entry of a customer's points ledger.")
class PointsTransaction:
    id: strawberry.ID = strawberry.field(description="Time-ordered identifier.")
    kind: PointsTransactionKind = strawberry.field(description="What caused this change.")
    points: int = strawberry.field(
        description="Signed change of the balance: positive credits, negative debits."
    )
    reason: str = strawberry.field(description="Why, in the merchant's words or the system's.")
    source: str | None = strawberry.field(
        description="What produced it: purchase, signup, staff, redemption, refund, expiry..."
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
        return cls(
            id=strawberry.ID(row.id),
            kind=PointsTransactionKind(row.kind),
            points=row.points,
            reason=row.reason,
            source=row.source,
            order_id=row.order_id,
            expires_at=row.expires_at,
            created_at=row.created_at,
            explanation=decision_steps(row.explanation),
        )


def transaction_position(row: PointsTransactionRow) -> tuple[str, str]:
    return (row.created_at.isoformat(), row.id)
