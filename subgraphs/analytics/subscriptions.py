"""Live metrics for dashboards (``kit.graphql.subscriptions``: one fresh read per event per
merchant, in its own unit of work, shared by every dashboard of the shop in this process)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.analytics import service
from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.types import LoyaltyMetrics
from subgraphs.kit.graphql.subscriptions import live_snapshots
from subgraphs.kit.permissions import Capability, require
from subgraphs.kit.pubsub import ledger_channel


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
            totals = await service.fresh_loyalty_totals(session, merchant_id)
            return LoyaltyMetrics.from_totals(totals)

        snapshots = live_snapshots(
            info, channel=ledger_channel(merchant_id), kind="loyalty_metrics", read=current
        )
        async with aclosing(snapshots):  # unsubscribes at once when the client does
            async for metrics in snapshots:
                yield metrics
