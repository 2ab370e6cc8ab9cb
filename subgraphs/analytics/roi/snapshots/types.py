"""GraphQL types of the daily ROI snapshots."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from subgraphs.analytics.roi.snapshots import service
from subgraphs.analytics.roi.types import PointsLiability, ProgramReturn


@strawberry.input(description="Calendar days (UTC): from `start` (included) to `end` (excluded).")
class DateRangeInput:
    start: date = strawberry.field(description="The first day.")
    end: date = strawberry.field(description="The day after the last; at most 731 days on.")

    def to_days(self) -> service.DayRange:
        return service.DayRange(self.start, self.end)


@strawberry.type(description="One stored day of the program: one point of an ROI chart.")
class RoiSnapshot:
    day: date = strawberry.field(description="The UTC calendar day.")
    program_return: ProgramReturn = strawberry.field(
        description="The day's return, as `programReturn` over the day (00:00 to 00:00 UTC) "
        "gave it when the snapshot was computed."
    )
    points_liability: PointsLiability = strawberry.field(
        description="The liability as of the day's end (00:00 UTC the next day), from the "
        "ledger as it stood at that instant."
    )
    computed_at: datetime = strawberry.field(
        description="When the day was last computed (a re-run that finds the same figures "
        "keeps the earlier time)."
    )

    @classmethod
    def of(cls, snapshot: service.RoiSnapshot) -> RoiSnapshot:
        return cls(
            day=snapshot.day,
            program_return=ProgramReturn.of(snapshot.program_return),
            points_liability=PointsLiability.of(snapshot.liability),
            computed_at=snapshot.computed_at,
        )


@strawberry.type(
    description="The stored daily snapshots of a range, for charts: days are only what was "
    "computed (nightly, or by a backfill), never interpolated."
)
class RoiHistory:
    days: list[RoiSnapshot] = strawberry.field(description="The stored days, in day order.")
    missing_days: list[date] = strawberry.field(
        description="Days of the range that have ended but have no snapshot (before the "
        "nightly job ran for them, or before a backfill reached them). Days not over yet are "
        "in neither list."
    )

    @classmethod
    def of(cls, history: service.RoiHistory) -> RoiHistory:
        return cls(
            days=[RoiSnapshot.of(snapshot) for snapshot in history.snapshots],
            missing_days=history.missing_days,
        )
