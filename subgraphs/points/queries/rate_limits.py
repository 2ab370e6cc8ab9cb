"""Where the merchant stands against Shopify's API rate limit."""

from __future__ import annotations

import strawberry

from subgraphs.kit.integrations.shopify_rate_limits import RateLimitMonitor
from subgraphs.kit.permissions import Capability, require
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.types.rate_limits import RateLimitStatus

ALERT_AT = 0.95


@strawberry.type
class RateLimitQuery:
    @strawberry.field(
        description="The shop's Shopify Admin API budget from the last throttle reading; null "
        "before LoyalNest has called Shopify for this shop (or while Redis is unreachable)."
    )
    async def rate_limit_status(self, info: PointsInfo) -> RateLimitStatus | None:
        require(info.context.viewer, Capability.READ_PROGRAM)
        monitor = RateLimitMonitor(info.context.resources.redis, alert_at=ALERT_AT)
        status = await monitor.latest(info.context.viewer.merchant_id)
        return None if status is None else RateLimitStatus.from_status(status, ALERT_AT)
