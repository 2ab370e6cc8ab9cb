"""The Customer entity as the points subgraph serves it."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from db.models import Customer as CustomerRow
from subgraphs.kit.graphql.node import NODE_ID_DESCRIPTION, global_id, local_id
from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.graphql.scalars import UnsignedInt64
from subgraphs.kit.pagination import PageRequest
from subgraphs.kit.permissions import require_customer_access
from subgraphs.points.consents.types import CustomerConsent
from subgraphs.points.customers.service import customer_email
from subgraphs.points.ledger.types import PointsTransaction, transaction_position
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.money import Money, shop_money
from subgraphs.points.rewards.types import RewardRedemption, redemption_position
from subgraphs.points.tiers.types import VipTier

MAX_EXPIRY_WINDOW_DAYS = 366


@strawberry.type(description="Points that will expire on a date unless spent first.")
class ExpiringPoints:
    points: UnsignedInt64 = strawberry.field(
        description="How many points expire then (a sum of lots, so it is unbounded)."
    )
    expires_at: datetime = strawberry.field(description="When they expire.")


@strawberry.federation.type(keys=["id"], description="A shopper enrolled in the loyalty program.")
class Customer:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    points_balance: UnsignedInt64 = strawberry.field(description="Points available to spend now.")
    total_points_earned: UnsignedInt64 = strawberry.field(
        description="Points earned over the customer's lifetime, less reversed ones."
    )
    orders_count: UnsignedInt64 = strawberry.field(
        description="Orders that earned (or were scored)."
    )
    redacted_at: datetime | None = strawberry.field(
        description="When the customer's personal data was erased (a GDPR customers/redact "
        "request); from then on their personal fields, such as email, are null."
    )
    rfm_segment: str | None = strawberry.field(
        description="The customer's RFM segment (e.g. Champions), once analytics scored them."
    )
    locale: str = strawberry.field(description="Preferred language for messages, e.g. en, ar.")
    row: strawberry.Private[CustomerRow]

    @classmethod
    def from_row(cls, row: CustomerRow) -> Customer:
        return cls(
            id=global_id("Customer", row.id),
            points_balance=UnsignedInt64(row.points_balance),
            total_points_earned=UnsignedInt64(row.total_points_earned),
            orders_count=UnsignedInt64(row.orders_count),
            redacted_at=row.redacted_at,
            rfm_segment=row.rfm_segment,
            locale=row.locale,
            row=row,
        )

    @classmethod
    async def resolve_reference(cls, info: PointsInfo, id: strawberry.ID) -> Customer | None:
        customer_id = local_id(id, "Customer")
        require_customer_access(info.context.viewer, customer_id)
        row = await info.context.loaders.customer_by_id.load(customer_id)
        return None if row is None else cls.from_row(row)

    @strawberry.field(
        description="The customer's email address; null once their data was erased "
        "(see redactedAt)."
    )
    def email(self, info: PointsInfo) -> str | None:
        if self.row.redacted_at is not None:
            return None
        return customer_email(self.row, info.context.resources.cipher)

    @strawberry.field(
        description="The customer's current consents, one per type they ever chose; a type "
        "missing here was never granted (marketing needs a grant)."
    )
    async def consents(self, info: PointsInfo) -> list[CustomerConsent]:
        rows = await info.context.loaders.consents_by_customer.load(self.row.id)
        return [CustomerConsent.from_row(row) for row in rows]

    @strawberry.field(description="The VIP tier the customer is in; null when in none.")
    async def vip_tier(self, info: PointsInfo) -> VipTier | None:
        if self.row.vip_tier_id is None:
            return None
        tier = await info.context.loaders.vip_tier_by_id.load(self.row.vip_tier_id)
        return None if tier is None else VipTier.from_row(tier)

    @strawberry.field(description="Lifetime spend on orders that earned, in the shop currency.")
    async def total_spent(self, info: PointsInfo) -> Money:
        return await shop_money(info, self.row.total_spent)

    @strawberry.field(description="The customer's ledger, newest first.")
    @paged()
    async def points_transactions(
        self,
        info: PointsInfo,
        paging: PageRequest,
    ) -> Connection[PointsTransaction]:
        page = await info.context.loaders.transactions_page_by_customer.load((self.row.id, paging))
        return to_connection(page, position=transaction_position, node=PointsTransaction.from_row)

    @strawberry.field(description="Rewards the customer redeemed, newest first.")
    @paged()
    async def redemptions(
        self,
        info: PointsInfo,
        paging: PageRequest,
    ) -> Connection[RewardRedemption]:
        page = await info.context.loaders.redemptions_page_by_customer.load((self.row.id, paging))
        return to_connection(page, position=redemption_position, node=RewardRedemption.from_view)

    @strawberry.field(
        description="Points that expire within the window (default 30 days), soonest first."
    )
    async def expiring_points(
        self,
        info: PointsInfo,
        within_days: Annotated[
            int,
            strawberry.argument(
                description="The window, in days from now (1 to 366; other values are clamped)."
            ),
        ] = 30,
    ) -> list[ExpiringPoints]:
        days = max(1, min(within_days, MAX_EXPIRY_WINDOW_DAYS))
        lots = await info.context.loaders.expiring_points_by_customer.load((self.row.id, days))
        return [ExpiringPoints(points=UnsignedInt64(points), expires_at=at) for at, points in lots]


@strawberry.enum(description="The orders of the customers list (ties broken by id).")
class CustomerSortKey(Enum):
    ID = strawberry.enum_value(
        "ID", description="By LoyalNest id: the order customers enrolled in (the default)."
    )
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="By when the customer enrolled.")
    POINTS_BALANCE = strawberry.enum_value(
        "POINTS_BALANCE", description="By points available to spend now."
    )
