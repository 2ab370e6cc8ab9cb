"""Live metrics for dashboards.

The socket's context outlives any request, so each push opens its own unit of work and never
touches the request loaders.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from db.session import tenant_unit_of_work
from subgraphs.analytics import service
from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.types import LoyaltyMetrics
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
        require(info.context.viewer, Capability.READ_ANALYTICS)
        resources = info.context.resources
        merchant_id = info.context.viewer.merchant_id

        async def current() -> LoyaltyMetrics:
            async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
                totals = await service.fresh_loyalty_totals(session, merchant_id)
            return LoyaltyMetrics.from_totals(totals)

        async with resources.pubsub.subscribe(ledger_channel(merchant_id)) as events:
            # Subscribed before the first read, so no change can slip between the two.
            yield await current()
            async for _ in events:
                yield await current()
