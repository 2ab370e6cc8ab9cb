"""What the API reads of referrals: pages of them (the shop's, one advocate's), their rewards,
by id, how many wait for review, an advocate's progress to the next tier, and the program's
report over a range of days (``referralAnalytics``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Referral, ReferralReward, ReferralStatus
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.referrals.clicks.repository import ReferralEventRepository
from subgraphs.referrals.conversions.repository import (
    ConversionRepository,
    ReferralRewardRepository,
)
from subgraphs.referrals.program.service import referral_program


async def referrals_page(
    session: AsyncSession,
    merchant_id: str,
    request: PageRequest,
    *,
    status: ReferralStatus | None = None,
) -> Page[Referral]:
    return await ConversionRepository(session, merchant_id).referrals_page(request, status=status)


async def rewards_of(
    session: AsyncSession, merchant_id: str, referral_ids: Sequence[str]
) -> list[ReferralReward]:
    return await ReferralRewardRepository(session, merchant_id).of_referrals(referral_ids)


async def referrals_by_ids(
    session: AsyncSession, merchant_id: str, referral_ids: Sequence[str]
) -> list[Referral]:
    return await ConversionRepository(session, merchant_id).get_by_ids(referral_ids)


async def held_referrals(
    session: AsyncSession, merchant_id: str, *, since: datetime | None = None
) -> int:
    """How many referrals wait for review (held since ``since``, when given)."""
    return await ReferralRewardRepository(session, merchant_id).held_referrals_since(since)


async def referral_pages(
    session: AsyncSession, merchant_id: str, advocate_ids: list[str], request: PageRequest
) -> dict[str, Page[Referral]]:
    return await ConversionRepository(session, merchant_id).referral_pages(advocate_ids, request)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where an advocate stands: completed referrals, and the next tier's threshold."""

    completed: int
    next_tier_from: int | None
    next_tier_points: int | None


async def progress(session: AsyncSession, merchant_id: str, advocate_id: str) -> Progress:
    program, _ = await referral_program(session, merchant_id)
    completed = await ConversionRepository(session, merchant_id).completed_count(advocate_id)
    ahead = sorted(
        (tier for tier in program.tiers if tier.from_count > completed),
        key=lambda tier: tier.from_count,
    )
    if not ahead:
        return Progress(completed, None, None)
    return Progress(completed, ahead[0].from_count, ahead[0].points)


# A report covers at most a year of days.
MAX_REPORT_DAYS = 366
TOP_ADVOCATES = 10


@dataclass(frozen=True, slots=True)
class ReferralDay:
    day: date
    clicks: int = 0
    unique_visitors: int = 0
    referrals: int = 0
    conversions: int = 0
    revenue: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class TopAdvocate:
    customer_id: str
    conversions: int
    revenue: Decimal


@dataclass(frozen=True, slots=True)
class ReferralReport:
    """The program's results over the UTC days ``first`` to ``last``: five statements
    whatever the number of links, referrals or days."""

    first: date
    last: date
    unique_visitors: int
    rewarded_points: int
    days: tuple[ReferralDay, ...]
    top_advocates: tuple[TopAdvocate, ...]

    @property
    def clicks(self) -> int:
        return sum(day.clicks for day in self.days)

    @property
    def referrals(self) -> int:
        return sum(day.referrals for day in self.days)

    @property
    def conversions(self) -> int:
        return sum(day.conversions for day in self.days)

    @property
    def revenue(self) -> Decimal:
        return sum((day.revenue for day in self.days), Decimal(0))

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "unique_visitors": self.unique_visitors,
            "rewarded_points": self.rewarded_points,
            "days": [
                [d.day.isoformat(), d.clicks, d.unique_visitors, d.referrals, d.conversions,
                 str(d.revenue)]
                for d in self.days
            ],
            "top": [[a.customer_id, a.conversions, str(a.revenue)] for a in self.top_advocates],
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReferralReport:
        return cls(
            first=date.fromisoformat(data["first"]),
            last=date.fromisoformat(data["last"]),
            unique_visitors=data["unique_visitors"],
            rewarded_points=data["rewarded_points"],
            days=tuple(
                ReferralDay(date.fromisoformat(d), c, u, r, v, Decimal(m))
                for d, c, u, r, v, m in data["days"]
            ),
            top_advocates=tuple(TopAdvocate(a, c, Decimal(m)) for a, c, m in data["top"]),
        )


async def referral_report(
    session: AsyncSession, merchant_id: str, first: date, last: date
) -> ReferralReport:
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    clicks, visitors = await ReferralEventRepository(session, merchant_id).click_counts(first, last)
    referrals = ConversionRepository(session, merchant_id)
    counts = await referrals.daily_counts(start, end)
    top = await referrals.top_advocates(start, end, TOP_ADVOCATES)
    rewarded = await ReferralRewardRepository(session, merchant_id).issued_points(start, end)
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        day_clicks, day_visitors = clicks.get(day, (0, 0))
        attributed, completed, revenue = counts.get(day, (0, 0, Decimal(0)))
        days.append(ReferralDay(day, day_clicks, day_visitors, attributed, completed, revenue))
    return ReferralReport(
        first=first,
        last=last,
        unique_visitors=visitors,
        rewarded_points=rewarded,
        days=tuple(days),
        top_advocates=tuple(TopAdvocate(*row) for row in top),
    )
