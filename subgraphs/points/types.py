"""GraphQL types of the points subgraph."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from db.models import Customer as CustomerRow
from db.models import PointsTransaction as PointsTransactionRow
from subgraphs.kit.relay import (
    AfterArgument,
    Connection,
    FirstArgument,
    page_request,
    to_connection,
)
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.service import PointsErrorCode as DomainErrorCode


@strawberry.enum(description="What caused a change of points.")
class PointsTransactionKind(enum.Enum):
    EARN = strawberry.enum_value("earn", description="Points earned for an action or order.")
    REDEEM = strawberry.enum_value("redeem", description="Points spent on a reward.")
    EXPIRE = strawberry.enum_value("expire", description="Points that expired unused.")
    ADJUST = strawberry.enum_value("adjust", description="A manual correction by the merchant.")
    IMPORT = strawberry.enum_value("import", description="Points imported from another program.")
    REFERRAL = strawberry.enum_value("referral", description="Points for a successful referral.")
    CAMPAIGN = strawberry.enum_value("campaign", description="Points from a bonus campaign.")


@strawberry.type(description="One entry of a customer's points ledger.")
class PointsTransaction:
    id: strawberry.ID = strawberry.field(description="Time-ordered identifier.")
    kind: PointsTransactionKind = strawberry.field(description="What caused this change.")
    points: int = strawberry.field(
        description="Signed change of the balance: positive credits, negative debits."
    )
    reason: str = strawberry.field(description="Why, in the merchant's words or the system's.")
    order_id: str | None = strawberry.field(description="The Shopify order, when there is one.")
    created_at: datetime = strawberry.field(description="When the change was recorded.")

    @classmethod
    def from_row(cls, row: PointsTransactionRow) -> PointsTransaction:
        return cls(
            id=strawberry.ID(row.id),
            kind=PointsTransactionKind(row.kind),
            points=row.points,
            reason=row.reason,
            order_id=row.order_id,
            created_at=row.created_at,
        )


def transaction_position(row: PointsTransactionRow) -> tuple[str, str]:
    return (row.created_at.isoformat(), row.id)


@strawberry.federation.type(keys=["id"], description="A shopper enrolled in the loyalty program.")
class Customer:
    id: strawberry.ID = strawberry.field(description="LoyalNest customer id.")
    points_balance: int = strawberry.field(description="Points available to spend now.")

    @classmethod
    def from_row(cls, row: CustomerRow) -> Customer:
        return cls(id=strawberry.ID(row.id), points_balance=row.points_balance)

    @classmethod
    async def resolve_reference(cls, info: PointsInfo, id: strawberry.ID) -> Customer | None:
        row = await info.context.loaders.customer_by_id.load(str(id))
        return None if row is None else cls.from_row(row)

    @strawberry.field(description="The customer's ledger, newest first.")
    async def points_transactions(
        self,
        info: PointsInfo,
        first: FirstArgument = None,
        after: AfterArgument = None,
    ) -> Connection[PointsTransaction]:
        page = await info.context.loaders.transactions_page_by_customer.load(
            (str(self.id), page_request(first, after))
        )
        return to_connection(page, position=transaction_position, node=PointsTransaction.from_row)


def customer_position(row: CustomerRow) -> tuple[str]:
    return (row.id,)


@strawberry.enum(description="Why a points mutation was refused.")
class PointsErrorCode(enum.Enum):
    CUSTOMER_NOT_FOUND = DomainErrorCode.CUSTOMER_NOT_FOUND.value
    INVALID_POINTS = DomainErrorCode.INVALID_POINTS.value
    INVALID_REASON = DomainErrorCode.INVALID_REASON.value
    INVALID_IDEMPOTENCY_KEY = DomainErrorCode.INVALID_IDEMPOTENCY_KEY.value
    IDEMPOTENCY_KEY_REUSED = DomainErrorCode.IDEMPOTENCY_KEY_REUSED.value


@strawberry.type(description="An expected failure of a points mutation.")
class PointsUserError:
    field: list[str] | None = strawberry.field(description="Path to the input field at fault.")
    message: str = strawberry.field(description="What went wrong, for people.")
    code: PointsErrorCode = strawberry.field(description="What went wrong, for programs.")


@strawberry.input(description="Award points to a customer.")
class PointsEarnInput:
    customer_id: strawberry.ID = strawberry.field(description="Who earns.")
    points: int = strawberry.field(description="How many points, 1 to 1,000,000.")
    reason: str = strawberry.field(description="Why, shown in the customer's history.")
    idempotency_key: str = strawberry.field(
        description="Your unique key for this award: retrying with it never awards twice."
    )


@strawberry.type(description="Result of pointsEarn.")
class PointsEarnPayload:
    transaction: PointsTransaction | None = strawberry.field(
        description="The ledger entry (the original one when the key was already used)."
    )
    customer: Customer | None = strawberry.field(description="The customer, with the new balance.")
    user_errors: list[PointsUserError] = strawberry.field(description="Why nothing changed.")
