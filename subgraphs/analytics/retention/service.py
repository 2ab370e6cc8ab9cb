"""Retention: of the customers whose first order fell in a month, the share who ordered again
k months later — for every customer, and for members against non-members (a member had
earned or spent points by the end of that first month). Months are calendar months in UTC;
cancelled orders do not count; the month in progress counts what it holds so far.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.analytics.retention.repository import CohortCell, RetentionRepository
from subgraphs.analytics.roi.service import share
from subgraphs.kit.errors import BadUserInputError

MAX_COHORTS = 36
MAX_MONTHS_AFTER = 24


@dataclass(frozen=True, slots=True)
class MonthRetention:
    months_after: int
    customers: int  # who ordered in that month
    share: Decimal | None  # of the group's customers


@dataclass(frozen=True, slots=True)
class CohortGroup:
    customers: int
    retention: list[MonthRetention]


@dataclass(frozen=True, slots=True)
class Cohort:
    month: date
    everyone: CohortGroup
    members: CohortGroup
    non_members: CohortGroup


def month_of(day: date) -> date:
    return date(day.year, day.month, 1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def _check(first: date, last: date, months_after: int) -> None:
    if last < first:
        raise BadUserInputError("lastMonth must not be before firstMonth")
    if months_between(first, last) >= MAX_COHORTS:
        raise BadUserInputError(f"at most {MAX_COHORTS} cohorts (months) at a time")
    if not 1 <= months_after <= MAX_MONTHS_AFTER:
        raise BadUserInputError(f"monthsAfter: 1 to {MAX_MONTHS_AFTER}")


def _group(cells: Iterable[CohortCell], months_after: int) -> CohortGroup:
    by_month: dict[int, int] = {}
    for cell in cells:
        by_month[cell.months_after] = by_month.get(cell.months_after, 0) + cell.customers
    size = by_month.get(0, 0)
    return CohortGroup(
        customers=size,
        retention=[
            MonthRetention(k, by_month.get(k, 0), share(Decimal(by_month.get(k, 0)), Decimal(size)))
            for k in range(1, months_after + 1)
        ],
    )


async def retention_cohorts(
    session: AsyncSession,
    merchant_id: str,
    first_month: date,
    last_month: date,
    months_after: int,
    *,
    now: datetime,
) -> list[Cohort]:
    """Every cohort from ``first_month`` to ``last_month`` (any day of each; empty ones
    too), each with the months after it that have begun by ``now``."""
    first, last = month_of(first_month), month_of(last_month)
    _check(first, last, months_after)
    current = month_of(now.date())
    last = min(last, current)
    cells = await RetentionRepository(session, merchant_id).cohort_cells(
        first, add_months(last, 1), months_after
    )
    cohorts = []
    month = first
    while month <= last:
        mine = [cell for cell in cells if cell.month == month]
        # Months after this cohort that have begun.
        begun = min(months_after, months_between(month, current))
        cohorts.append(
            Cohort(
                month=month,
                everyone=_group(mine, begun),
                members=_group((cell for cell in mine if cell.member), begun),
                non_members=_group((cell for cell in mine if not cell.member), begun),
            )
        )
        month = add_months(month, 1)
    return cohorts
