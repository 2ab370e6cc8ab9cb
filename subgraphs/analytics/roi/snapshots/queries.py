"""Reading the daily ROI snapshots."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.roi.snapshots import service
from subgraphs.analytics.roi.snapshots.types import DateRangeInput, RoiHistory
from subgraphs.kit.permissions import Capability, require


@strawberry.field(
    description="The program day by day as stored each night: each day's return and the "
    "points liability at its end, and the days that have no snapshot."
)
async def roi_history(
    info: AnalyticsInfo,
    range: Annotated[
        DateRangeInput, strawberry.argument(description="The days to read (UTC calendar days).")
    ],
) -> RoiHistory:
    merchant_id = require(info.context.viewer, Capability.READ_ANALYTICS).merchant_id
    days = range.to_days()
    async with info.context.unit_of_work() as session:
        history = await service.roi_history(session, merchant_id, days, now=datetime.now(UTC))
    return RoiHistory.of(history)


SnapshotQuery = create_type("SnapshotQuery", [roi_history])
