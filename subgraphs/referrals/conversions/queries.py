"""Reading referrals."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry
from strawberry.tools import create_type

from db.models import ReferralStatus
from subgraphs.kit.errors import BadUserInputError
from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.pagination import PageRequest, time_ordered_page, time_ordered_position
from subgraphs.kit.permissions import Capability, require
from subgraphs.referrals.conversions import reads
from subgraphs.referrals.conversions.types import (
    Referral,
    ReferralAnalytics,
    ReferralStatusEnum,
)
from subgraphs.referrals.loaders import ReferralsInfo

StatusArgument = Annotated[
    ReferralStatusEnum | None,  # type: ignore[valid-type]
    strawberry.argument(description="Only referrals in this status."),
]


@strawberry.field(description="The shop's referrals, newest first.")
@paged(time_ordered_page)
async def referrals(
    info: ReferralsInfo, status: StatusArgument = None, *, paging: PageRequest
) -> Connection[Referral]:
    require(info.context.viewer, Capability.READ_CUSTOMERS)
    async with info.context.unit_of_work() as session:
        page = await reads.referrals_page(
            session,
            info.context.viewer.merchant_id,
            paging,
            status=None if status is None else ReferralStatus(status),
        )
    return to_connection(page, position=time_ordered_position, node=Referral.from_row)


ReportDay = Annotated[date, strawberry.argument(description="A UTC day.")]
# Fresh enough for a dashboard, and one computation a minute however many look at it.
REPORT_TTL_SECONDS = 60


@strawberry.field(
    description=f"How the referral program did from one UTC day to another (at most "
    f"{reads.MAX_REPORT_DAYS} days): clicks, visitors, referrals, conversions, revenue, points "
    "paid, day by day and the top advocates. Up to a minute old. Needs read_analytics."
)
async def referral_analytics(
    info: ReferralsInfo, first_day: ReportDay, last_day: ReportDay
) -> ReferralAnalytics:
    require(info.context.viewer, Capability.READ_ANALYTICS)
    if last_day < first_day:
        raise BadUserInputError("lastDay is before firstDay")
    if last_day == date.max:  # the range ends at the next midnight, past the calendar's end
        raise BadUserInputError(f"lastDay must be before {date.max.isoformat()}")
    if (last_day - first_day).days + 1 > reads.MAX_REPORT_DAYS:
        raise BadUserInputError(f"a report covers at most {reads.MAX_REPORT_DAYS} days")
    merchant_id = info.context.viewer.merchant_id

    async def compute() -> reads.ReferralReport:
        async with info.context.unit_of_work() as session:
            return await reads.referral_report(session, merchant_id, first_day, last_day)

    report = await info.context.resources.cache.get_or_load(
        merchant_id,
        f"referral-report:{first_day.isoformat()}:{last_day.isoformat()}",
        compute,
        encode=reads.ReferralReport.to_json,
        decode=reads.ReferralReport.from_json,
        ttl_seconds=REPORT_TTL_SECONDS,
    )
    return ReferralAnalytics.of(report)


ReferralQuery = create_type("ReferralQuery", [referrals, referral_analytics])
