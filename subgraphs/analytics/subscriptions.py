"""Live metrics and segment counts for dashboards (``kit.graphql.subscriptions``: one fresh
read per event per merchant, in its own unit of work, shared by every dashboard of the shop in
this process)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.analytics import service
from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.rfm import service as rfm
from subgraphs.analytics.rfm.types import RfmSegmentCount
from subgraphs.analytics.types import LoyaltyMetrics
from subgraphs.kit.graphql.subscriptions import live_snapshots
from subgraphs.kit.permissions import Capability, require
from subgraphs.kit.pubsub import ledger_channel, segments_channel


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The viewer's loyalty metrics now, then again after every ledger change."
    )
    async def loyalty_metrics_updated(
        self, info: AnalyticsInfo
    ) -> AsyncGenerator[LoyaltyMetrics, None]:
        merchant_id = require(info.context.viewer, Capability.READ_ANALYTICS).merchant_id

        async def current(session: AsyncSession) -> LoyaltyMetrics:
            return LoyaltyMetrics.of(await service.fresh_loyalty_metrics(session, merchant_id))

        snapshots = live_snapshots(
            info, channel=ledger_channel(merchant_id), kind="loyalty_metrics", read=current
        )
        async with aclosing(snapshots):  # unsubscribes at once when the client does
            async for metrics in snapshots:
                yield metrics

    @strawberry.subscription(
        description="Customers per RFM segment now (as `rfmSegmentCounts`), then again after "
        "every full recompute of the shop's segments (nightly)."
    )
    async def segment_counts_updated(
        self, info: AnalyticsInfo
    ) -> AsyncGenerator[list[RfmSegmentCount], None]:
        merchant_id = require(info.context.viewer, Capability.READ_ANALYTICS).merchant_id

        async def current(session: AsyncSession) -> list[RfmSegmentCount]:
            counts = await rfm.segment_counts(session, merchant_id)
            return [RfmSegmentCount.of(count) for count in counts]

        snapshots = live_snapshots(
            info, channel=segments_channel(merchant_id), kind="segment_counts", read=current
        )
        async with aclosing(snapshots):
            async for counts in snapshots:
                yield counts
