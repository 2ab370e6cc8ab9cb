"""Time series for charts: per day, ISO week or month of a range, the points moved, new
members, rewards redeemed, orders, revenue and revenue influenced — by the definitions of
``roi.service`` — cached per merchant, range and granularity."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from subgraphs.analytics.roi.repository import (
    ActivityBucket,
    OrderBucket,
    PointsFlow,
    ReturnRepository,
)
from subgraphs.analytics.roi.service import DateRange, codes_issued_before
from subgraphs.kit.cache import TenantCache


class Granularity(enum.StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, from Monday
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class SeriesBucket:
    """One bar of the charts: what happened from ``start`` (the calendar day, week or month,
    in UTC; the first and last may be cut by the range) to the next bucket."""

    start: datetime
    points: PointsFlow
    new_members: int
    rewards_redeemed: int
    orders: int
    revenue: Decimal
    revenue_influenced: Decimal


@dataclass(frozen=True, slots=True)
class LoyaltySeries:
    range: DateRange
    granularity: Granularity
    currency: str
    buckets: tuple[SeriesBucket, ...]


def bucket_starts(window: DateRange, granularity: Granularity) -> list[datetime]:
    """The calendar starts (UTC) of every bucket the range touches, in order."""
    at = window.start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity is Granularity.WEEK:
        at -= timedelta(days=at.weekday())
    elif granularity is Granularity.MONTH:
        at = at.replace(day=1)
    starts = []
    while at < window.end:
        starts.append(at)
        if granularity is Granularity.MONTH:
            at = (at + timedelta(days=32)).replace(day=1)
        else:
            at += timedelta(days=7 if granularity is Granularity.WEEK else 1)
    return starts


async def loyalty_series(
    session: AsyncSession,
    merchant_id: str,
    cipher: FieldCipher,
    window: DateRange,
    granularity: Granularity,
) -> LoyaltySeries:
    """Every bucket of the range, empty ones too (a chart needs its gaps), from five
    statements whatever the range or the shop."""
    # At most 732 (days of the longest range, two years): a chart's worth.
    starts = bucket_starts(window, granularity)
    repository = ReturnRepository(session, merchant_id)
    unit = granularity.value
    loyalty, referral = await codes_issued_before(repository, cipher, window.end)
    orders = await repository.order_buckets(
        window.start, window.end, unit, loyalty_codes=loyalty, referral_codes=referral
    )
    points = await repository.points_buckets(window.start, window.end, unit)
    activity = await repository.activity_buckets(window.start, window.end, unit)
    nothing_moved = PointsFlow(0, 0, 0, 0)
    no_orders = OrderBucket(0, Decimal("0.00"), Decimal("0.00"))
    no_activity = ActivityBucket(0, 0)
    buckets = []
    for start in starts:
        # The statements group by UTC wall-clock time.
        key = start.replace(tzinfo=None)
        sold, moved, happened = (
            orders.get(key, no_orders),
            points.get(key, nothing_moved),
            activity.get(key, no_activity),
        )
        buckets.append(
            SeriesBucket(
                start=start,
                points=moved,
                new_members=happened.new_members,
                rewards_redeemed=happened.rewards_redeemed,
                orders=sold.orders,
                revenue=sold.revenue,
                revenue_influenced=sold.influenced_revenue,
            )
        )
    return LoyaltySeries(window, granularity, await repository.shop_currency(), tuple(buckets))


SERIES_CACHE_NAME = "loyalty-series"
# A ledger change retires it at once (kit.events.ledger_changed); an order that moves no
# points (a guest's) shows within this.
SERIES_CACHE_TTL_SECONDS = 300


def _encode_series(series: LoyaltySeries) -> dict[str, Any]:
    return {
        "currency": series.currency,
        "buckets": [
            [
                bucket.start.isoformat(),
                *astuple(bucket.points),
                bucket.new_members,
                bucket.rewards_redeemed,
                bucket.orders,
                str(bucket.revenue),
                str(bucket.revenue_influenced),
            ]
            for bucket in series.buckets
        ],
    }


def _decode_series(
    window: DateRange, granularity: Granularity, cached: dict[str, Any]
) -> LoyaltySeries:
    buckets = []
    for (
        start,
        issued,
        reversed_,
        redeemed,
        expired,
        joined,
        rewards,
        orders,
        revenue,
        influenced,
    ) in cached["buckets"]:
        buckets.append(
            SeriesBucket(
                start=datetime.fromisoformat(start),
                points=PointsFlow(issued, reversed_, redeemed, expired),
                new_members=joined,
                rewards_redeemed=rewards,
                orders=orders,
                revenue=Decimal(revenue),
                revenue_influenced=Decimal(influenced),
            )
        )
    return LoyaltySeries(window, granularity, cached["currency"], tuple(buckets))


async def cached_loyalty_series(
    cache: TenantCache,
    merchant_id: str,
    window: DateRange,
    granularity: Granularity,
    load: Callable[[], Awaitable[LoyaltySeries]],
) -> LoyaltySeries:
    """The series from the cache (per merchant, range and granularity), or from ``load``."""
    name = (
        f"{SERIES_CACHE_NAME}:{granularity.value}:"
        f"{window.start.astimezone(UTC).isoformat()}:{window.end.astimezone(UTC).isoformat()}"
    )
    return await cache.get_or_load(
        merchant_id,
        name,
        load,
        encode=_encode_series,
        decode=lambda cached: _decode_series(window, granularity, cached),
        ttl_seconds=SERIES_CACHE_TTL_SECONDS,
    )
