"""GraphQL types of the analytics subgraph."""

from __future__ import annotations

import strawberry

from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.rfm.types import RfmSegmentCount
from subgraphs.analytics.service import LoyaltyMetricsSnapshot
from subgraphs.kit.graphql.node import NODE_ID_DESCRIPTION, local_id
from subgraphs.kit.graphql.scalars import UnsignedInt64
from subgraphs.kit.permissions import Capability, require


@strawberry.type(description="Headline numbers of a merchant's loyalty program.")
class LoyaltyMetrics:
    # Lifetime sums grow without bound: 64-bit, so they never overflow GraphQL's 32-bit Int.
    members_count: UnsignedInt64 = strawberry.field(
        description="Customers enrolled in the program."
    )
    points_issued: UnsignedInt64 = strawberry.field(description="All points ever credited.")
    points_redeemed: UnsignedInt64 = strawberry.field(
        description="All points ever spent on rewards."
    )
    rewards_redeemed: UnsignedInt64 = strawberry.field(
        description="Rewards ever redeemed and issued (not those refunded when they failed)."
    )
    segment_counts: list[RfmSegmentCount] = strawberry.field(
        description="Customers per RFM segment at the last full recompute, as `rfmSegmentCounts`."
    )

    @classmethod
    def of(cls, snapshot: LoyaltyMetricsSnapshot) -> LoyaltyMetrics:
        totals = snapshot.totals
        return cls(
            members_count=UnsignedInt64(totals.members_count),
            points_issued=UnsignedInt64(totals.points_issued),
            points_redeemed=UnsignedInt64(totals.points_redeemed),
            rewards_redeemed=UnsignedInt64(totals.rewards_redeemed),
            segment_counts=[RfmSegmentCount.of(count) for count in snapshot.segments],
        )


@strawberry.federation.type(keys=["id"], description="A Shopify shop running LoyalNest.")
class Merchant:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    merchant_id: strawberry.Private[str]

    @classmethod
    def resolve_reference(cls, info: AnalyticsInfo, id: strawberry.ID) -> Merchant | None:
        merchant_id = local_id(id, "Merchant")
        # A viewer only ever sees its own merchant's numbers.
        if merchant_id != info.context.viewer.merchant_id:
            return None
        return cls(id=id, merchant_id=merchant_id)

    @strawberry.field(description="Headline loyalty numbers, current to the last ledger change.")
    async def loyalty_metrics(self, info: AnalyticsInfo) -> LoyaltyMetrics:
        require(info.context.viewer, Capability.READ_ANALYTICS)
        snapshot = await info.context.loaders.loyalty_metrics_by_merchant.load(self.merchant_id)
        return LoyaltyMetrics.of(snapshot)
