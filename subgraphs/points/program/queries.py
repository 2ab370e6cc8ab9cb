"""The program's settings, and where the shop stands against Shopify's API rate limit."""

from __future__ import annotations

import strawberry
from strawberry.tools import create_type

from subgraphs.kit.integrations.shopify_rate_limits import RateLimitMonitor
from subgraphs.kit.permissions import Capability, require
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.program.service import program_config_with_version
from subgraphs.points.program.types import ProgramSettings, RateLimitStatus

ALERT_AT = 0.95


@strawberry.field(description="The viewer's points program (defaults until first saved).")
async def program_settings(info: PointsInfo) -> ProgramSettings:
    require(info.context.viewer, Capability.READ_PROGRAM)
    async with info.context.unit_of_work() as session:
        config, version = await program_config_with_version(
            session, info.context.viewer.merchant_id
        )
    return ProgramSettings.from_config(config, version)


ProgramQuery = create_type("ProgramQuery", [program_settings])


@strawberry.field(
    description="The shop's Shopify Admin API budget from the last throttle reading; null "
    "before LoyalNest has called Shopify for this shop (or while Redis is unreachable)."
)
async def rate_limit_status(info: PointsInfo) -> RateLimitStatus | None:
    require(info.context.viewer, Capability.READ_PROGRAM)
    monitor = RateLimitMonitor(info.context.resources.redis, alert_at=ALERT_AT)
    status = await monitor.latest(info.context.viewer.merchant_id)
    return None if status is None else RateLimitStatus.from_status(status, ALERT_AT)


RateLimitQuery = create_type("RateLimitQuery", [rate_limit_status])
