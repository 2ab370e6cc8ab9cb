"""Reading what the program returns and what it owes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.roi import series, service
from subgraphs.analytics.roi.types import (
    AnalyticsGranularity,
    DateTimeRangeInput,
    LoyaltyAnalytics,
    PointsLiability,
    ProgramReturn,
)
from subgraphs.kit.permissions import Capability, require


@strawberry.field(
    description="What the program brought in over a range: revenue it influenced, referral "
    "contribution, VIP against other members, redemption rate and breakage."
)
async def program_return(
    info: AnalyticsInfo,
    range: Annotated[
        DateTimeRangeInput,
        strawberry.argument(description="The span of time, by when orders were placed."),
    ],
) -> ProgramReturn:
    merchant_id = require(info.context.viewer, Capability.READ_ANALYTICS).merchant_id
    window = range.to_range()
    async with info.context.unit_of_work() as session:
        result = await service.program_return(
            session, merchant_id, info.context.resources.cipher, window
        )
    return ProgramReturn.of(result)


@strawberry.field(description="What the program owes its members now: the points liability.")
async def points_liability(info: AnalyticsInfo) -> PointsLiability:
    merchant_id = require(info.context.viewer, Capability.READ_ANALYTICS).merchant_id
    async with info.context.unit_of_work() as session:
        owed = await service.points_liability(session, merchant_id, now=datetime.now(UTC))
    return PointsLiability.of(owed)


@strawberry.field(
    description="The program over time for charts: per day, week or month of the range, "
    "points issued, reversed, redeemed and expired, new members, rewards redeemed, orders, "
    "revenue and revenue influenced."
)
async def loyalty_analytics(
    info: AnalyticsInfo,
    range: Annotated[
        DateTimeRangeInput, strawberry.argument(description="The span of time to chart.")
    ],
    granularity: Annotated[
        AnalyticsGranularity,  # type: ignore[valid-type]
        strawberry.argument(description="How long each bucket is."),
    ],
) -> LoyaltyAnalytics:
    merchant_id = require(info.context.viewer, Capability.READ_ANALYTICS).merchant_id
    window = range.to_range()
    context = info.context

    async def load() -> series.LoyaltySeries:
        async with context.unit_of_work() as session:
            return await series.loyalty_series(
                session, merchant_id, context.resources.cipher, window, granularity
            )

    found = await series.cached_loyalty_series(
        context.resources.cache, merchant_id, window, granularity, load
    )
    return LoyaltyAnalytics.of(found)


ReturnQuery = create_type("ReturnQuery", [program_return, points_liability, loyalty_analytics])
