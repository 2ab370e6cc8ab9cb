"""Daily ROI snapshots: a day's figures, kept so that a chart of months (and an accountant's
month-end) reads stored rows instead of recomputing every day.

A snapshot of UTC day D holds
- the program return of [D 00:00, D+1 00:00) UTC — exactly what ``programReturn`` gives for
  that range (``roi.service.program_return``, the one definition);
- the points liability as of D+1 00:00 UTC — the instant the day ends, computed from the
  ledger as of that instant (balances = the signed sum of the ledger rows created before it),
  not from today's balances, so a month-end figure stays what it was whatever members did
  since. Its value per point is the year of redemptions before the instant (else the catalog
  of rewards that existed then); its breakage the lifetime expired / issued before it.

Writing a day replaces its row (idempotent per merchant and day): a re-run, a retried job or
a backfill after late order facts leave one row per day, the latest computation's. A day is
snapshotted only once it has ended. Days without a row stay missing: nothing is interpolated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from subgraphs.analytics.roi.repository import PointsFlow, ReturnRepository
from subgraphs.analytics.roi.service import (
    VALUE_WINDOW,
    DateRange,
    Performance,
    PointsLiability,
    ProgramReturn,
    ValueBasis,
    liability_of,
    program_return,
)
from subgraphs.analytics.roi.snapshots.repository import RoiMetricsRepository, StoredDay
from subgraphs.kit.errors import BadUserInputError
from subgraphs.kit.write_context import WriteContext

# The most days one history or one backfill spans: two years, as a ``programReturn`` range.
MAX_DAYS = 731
DAY = timedelta(days=1)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def day_range(day: date) -> DateRange:
    """The UTC day as a range of instants: [00:00, next 00:00)."""
    return DateRange(day_start(day), day_start(day + DAY))


def last_complete_day(now: datetime) -> date:
    """The latest UTC day that has ended at ``now``: yesterday."""
    return now.astimezone(UTC).date() - DAY


@dataclass(frozen=True, slots=True)
class DayRange:
    """Calendar days (UTC) from ``start`` (included) to ``end`` (excluded)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise BadUserInputError("range: end must be after start")
        if (self.end - self.start).days > MAX_DAYS:
            raise BadUserInputError(f"range: at most {MAX_DAYS} days")

    def days(self) -> list[date]:
        return [self.start + n * DAY for n in range((self.end - self.start).days)]


@dataclass(frozen=True, slots=True)
class RoiSnapshot:
    day: date
    program_return: ProgramReturn
    liability: PointsLiability
    computed_at: datetime


@dataclass(frozen=True, slots=True)
class RoiHistory:
    """Stored days of a range in day order, and the ended days of the range with no row."""

    snapshots: list[RoiSnapshot]
    missing_days: list[date]


async def points_liability_as_of(
    session: AsyncSession, merchant_id: str, as_of: datetime
) -> PointsLiability:
    """The points liability at a past instant, from the ledger as it stood then."""
    currency = await ReturnRepository(session, merchant_id).shop_currency()
    facts = await RoiMetricsRepository(session, merchant_id).liability_facts_as_of(
        currency, as_of, as_of - VALUE_WINDOW
    )
    lifetime = await ReturnRepository(session, merchant_id).points_flow(None, as_of)
    return liability_of(as_of, currency, facts, lifetime)


async def snapshot_day(write: WriteContext, cipher: FieldCipher, day: date) -> RoiSnapshot:
    """Compute the day and store it in place of any earlier computation of it. Refuses a day
    that has not ended at ``write.now`` (its figures would still move)."""
    window = day_range(day)
    if window.end > write.now:
        raise BadUserInputError(f"{day.isoformat()} has not ended yet: nothing to snapshot")
    figures = await program_return(write.session, write.merchant_id, cipher, window)
    liability = await points_liability_as_of(write.session, write.merchant_id, window.end)
    await RoiMetricsRepository(write.session, write.merchant_id).replace_day(
        day, _columns(figures, liability), write.now
    )
    return RoiSnapshot(day, figures, liability, write.now)


def backfill_days(days: int, *, now: datetime) -> list[date]:
    """The last ``days`` complete UTC days at ``now``, oldest first (1 to 731)."""
    if not 1 <= days <= MAX_DAYS:
        raise BadUserInputError(f"days: give 1 to {MAX_DAYS}")
    last = last_complete_day(now)
    return [last - n * DAY for n in reversed(range(days))]


async def roi_history(
    session: AsyncSession, merchant_id: str, days: DayRange, *, now: datetime
) -> RoiHistory:
    stored = await RoiMetricsRepository(session, merchant_id).days_between(days.start, days.end)
    found = {row.day for row in stored}
    last = last_complete_day(now)
    return RoiHistory(
        snapshots=[_snapshot(row) for row in stored],
        missing_days=[day for day in days.days() if day <= last and day not in found],
    )


def _columns(figures: ProgramReturn, liability: PointsLiability) -> dict[str, Any]:
    flow, lifetime = figures.points, liability.lifetime
    return {
        "currency": figures.currency,
        "orders": figures.orders,
        "revenue": figures.revenue,
        "influenced_orders": figures.influenced_orders,
        "influenced_revenue": figures.influenced_revenue,
        "referral_orders": figures.referral_orders,
        "referral_revenue": figures.referral_revenue,
        "vip_orders": figures.vip.orders,
        "vip_customers": figures.vip.customers,
        "vip_revenue": figures.vip.revenue,
        "member_orders": figures.members.orders,
        "member_customers": figures.members.customers,
        "member_revenue": figures.members.revenue,
        "points_issued": flow.issued,
        "points_reversed": flow.reversed,
        "points_redeemed": flow.redeemed,
        "points_expired": flow.expired,
        "outstanding_points": liability.outstanding_points,
        "value_per_point": liability.value_per_point,
        "value_basis": liability.basis.value,
        "lifetime_issued": lifetime.issued,
        "lifetime_reversed": lifetime.reversed,
        "lifetime_redeemed": lifetime.redeemed,
        "lifetime_expired": lifetime.expired,
    }


def _snapshot(row: StoredDay) -> RoiSnapshot:
    f = row.figures
    window = day_range(row.day)

    def amount(name: str) -> Decimal:
        return Decimal(f[name])

    figures = ProgramReturn(
        range=window,
        currency=f["currency"],
        orders=f["orders"],
        revenue=amount("revenue"),
        influenced_orders=f["influenced_orders"],
        influenced_revenue=amount("influenced_revenue"),
        referral_orders=f["referral_orders"],
        referral_revenue=amount("referral_revenue"),
        vip=Performance(f["vip_orders"], f["vip_customers"], amount("vip_revenue")),
        members=Performance(f["member_orders"], f["member_customers"], amount("member_revenue")),
        points=PointsFlow(
            f["points_issued"], f["points_reversed"], f["points_redeemed"], f["points_expired"]
        ),
    )
    liability = PointsLiability(
        as_of=window.end,
        currency=f["currency"],
        outstanding_points=f["outstanding_points"],
        value_per_point=f["value_per_point"],
        basis=ValueBasis(f["value_basis"]),
        lifetime=PointsFlow(
            f["lifetime_issued"],
            f["lifetime_reversed"],
            f["lifetime_redeemed"],
            f["lifetime_expired"],
        ),
    )
    return RoiSnapshot(row.day, figures, liability, row.computed_at)
