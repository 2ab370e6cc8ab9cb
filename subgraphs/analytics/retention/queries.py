"""Reading retention cohorts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import strawberry
from strawberry.tools import create_type

from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.retention import service
from subgraphs.analytics.retention.types import RetentionCohort
from subgraphs.kit.permissions import Capability, require


@strawberry.field(
    description="Monthly cohorts by first order, and the share of each that ordered again in "
    "every month after: members against non-members. Every month of the span is listed, "
    "empty ones too; months not begun yet are left out."
)
async def retention_cohorts(
    info: AnalyticsInfo,
    first_month: Annotated[
        date, strawberry.argument(description="The first cohort: any day of its month.")
    ],
    last_month: Annotated[
        date,
        strawberry.argument(description="The last cohort: any day of its month; at most 36."),
    ],
    months_after: Annotated[
        int, strawberry.argument(description="How many months after each cohort, 1 to 24.")
    ] = 12,
) -> list[RetentionCohort]:
    merchant_id = require(info.context.viewer, Capability.READ_ANALYTICS).merchant_id
    async with info.context.unit_of_work() as session:
        cohorts = await service.retention_cohorts(
            session, merchant_id, first_month, last_month, months_after, now=datetime.now(UTC)
        )
    return [RetentionCohort.of(cohort) for cohort in cohorts]


RetentionQuery = create_type("RetentionQuery", [retention_cohorts])
