"""The statements behind ROI and the points liability: read-only aggregates over the order
facts (analytics' own ``orders``) and the tables they are judged against — the ledger, the
redemptions and referral rewards (for the discount codes they issued), the referrals, the
balances, the reward catalog. Analytics is the read side: it writes none of those.

Each figure is one set-based statement whatever the shop's size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Ledger kinds that are a member engaging with the program: earning (an order, an action, a
# referral, a campaign bonus) or spending. An import or a staff adjustment is not the
# member's doing, and neither are the points every account gets by itself (AUTOMATIC_EARNS).
ENGAGED_KINDS = ("earn", "redeem", "referral", "campaign")
AUTOMATIC_EARNS = ("signup", "birthday")


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """A discount code the program gave out, still encrypted (``context`` names its column)."""

    encrypted: str
    context: str


@dataclass(frozen=True, slots=True)
class OrderTotals:
    orders: int
    revenue: Decimal
    influenced_orders: int
    influenced_revenue: Decimal
    referral_orders: int
    referral_revenue: Decimal
    vip_orders: int
    vip_customers: int
    vip_revenue: Decimal
    member_orders: int
    member_customers: int
    member_revenue: Decimal


@dataclass(frozen=True, slots=True)
class PointsFlow:
    issued: int
    reversed: int
    redeemed: int
    expired: int


@dataclass(frozen=True, slots=True)
class OrderBucket:
    orders: int
    revenue: Decimal
    influenced_revenue: Decimal


@dataclass(frozen=True, slots=True)
class ActivityBucket:
    new_members: int
    rewards_redeemed: int


@dataclass(frozen=True, slots=True)
class LiabilityFacts:
    outstanding_points: int
    # What issued redemptions in the shop currency were worth, and the points they took,
    # over the last year.
    redeemed_value: Decimal | None
    redeemed_points: int
    # The most one point buys among the active fixed-amount rewards.
    catalog_value_per_point: Decimal | None


# An order's net (what refunds left of it) is what it brought in; a cancelled one brought
# nothing. Sums keep the amounts' two places (0.00, not 0, when there is nothing). A code
# matches whatever its case (Shopify's codes are case-insensitive). Each order of the range,
# judged: influenced by the program, referred. The one definition of both, for the range's
# totals and for the series' buckets.
_JUDGED_ORDERS = """
    WITH ranged AS (
        SELECT o.customer_id, o.tier_id, o.created_at, o.total - o.refunded_amount AS net,
               EXISTS (
                   SELECT 1 FROM points_transactions t
                   WHERE t.merchant_id = o.merchant_id AND t.customer_id = o.customer_id
                     AND t.kind = ANY(CAST(:engaged_kinds AS text[])) AND t.points <> 0
                     AND t.created_at < o.created_at
                     AND (t.kind <> 'earn'
                          OR coalesce(t.source, '') <> ALL(CAST(:automatic_earns AS text[])))
               ) AS by_engaged_member,
               EXISTS (
                   SELECT 1 FROM referrals r
                   WHERE r.merchant_id = o.merchant_id AND r.friend_customer_id = o.customer_id
                     AND r.status = 'completed' AND r.created_at <= o.created_at
               ) AS by_referred_friend,
               EXISTS (
                   SELECT 1 FROM unnest(o.discount_codes) AS used(code)
                   WHERE upper(used.code) = ANY(CAST(:loyalty_codes AS text[]))
               ) AS with_loyalty_code,
               EXISTS (
                   SELECT 1 FROM unnest(o.discount_codes) AS used(code)
                   WHERE upper(used.code) = ANY(CAST(:referral_codes AS text[]))
               ) AS with_referral_code
        FROM orders o
        WHERE o.merchant_id = :merchant_id AND o.cancelled_at IS NULL
          AND o.created_at >= :start AND o.created_at < :end
    ),
    judged AS (
        SELECT *,
               by_engaged_member OR with_loyalty_code OR with_referral_code
                   OR by_referred_friend AS influenced,
               by_referred_friend OR with_referral_code AS referred
        FROM ranged
    )
"""

# Both statements are composed of this module's constants only (no value reaches the text).
_ORDER_TOTALS = text(
    _JUDGED_ORDERS  # noqa: S608
    + """
    SELECT count(*),
           coalesce(sum(net), 0.00),
           count(*) FILTER (WHERE influenced),
           coalesce(sum(net) FILTER (WHERE influenced), 0.00),
           count(*) FILTER (WHERE referred),
           coalesce(sum(net) FILTER (WHERE referred), 0.00),
           count(*) FILTER (WHERE tier_id IS NOT NULL),
           count(DISTINCT customer_id) FILTER (WHERE tier_id IS NOT NULL),
           coalesce(sum(net) FILTER (WHERE tier_id IS NOT NULL), 0.00),
           count(*) FILTER (WHERE tier_id IS NULL AND customer_id IS NOT NULL),
           count(DISTINCT customer_id) FILTER (WHERE tier_id IS NULL),
           coalesce(sum(net) FILTER (WHERE tier_id IS NULL AND customer_id IS NOT NULL), 0.00)
    FROM judged
    """
)

# Buckets are calendar days, ISO weeks (from Monday) or months, in UTC.
_ORDER_BUCKETS = text(
    _JUDGED_ORDERS  # noqa: S608
    + """
    SELECT date_trunc(:unit, created_at AT TIME ZONE 'UTC') AS bucket,
           count(*),
           coalesce(sum(net), 0.00),
           coalesce(sum(net) FILTER (WHERE influenced), 0.00)
    FROM judged
    GROUP BY bucket
    """
)

# Issued: what members earned or were given. Reversed: what refunds and cancellations of
# their orders took back. Redeemed: spent on rewards, less what failed rewards gave back.
# Expired: lost to expiry.
_FLOW_COLUMNS = """
    coalesce(sum(points) FILTER (WHERE points > 0 AND kind <> 'refund'), 0),
    coalesce(-sum(points) FILTER (WHERE kind = 'reverse'), 0),
    -- A span can hold the return of points spent before it: never below nothing.
    greatest(
        coalesce(-sum(points) FILTER (WHERE kind = 'redeem'), 0)
          - coalesce(sum(points) FILTER (WHERE kind = 'refund'), 0),
        0
    ),
    coalesce(-sum(points) FILTER (WHERE kind = 'expire'), 0)
"""
_POINTS_FLOW = text(
    "SELECT"  # composed of this module's constants only
    + _FLOW_COLUMNS
    + """
    FROM points_transactions
    WHERE merchant_id = :merchant_id
      AND (CAST(:start AS timestamptz) IS NULL OR created_at >= :start)
      AND (CAST(:end AS timestamptz) IS NULL OR created_at < :end)
    """
)
_POINTS_BUCKETS = text(
    "SELECT date_trunc(:unit, created_at AT TIME ZONE 'UTC') AS bucket,"  # noqa: S608
    + _FLOW_COLUMNS
    + """
    FROM points_transactions
    WHERE merchant_id = :merchant_id AND created_at >= :start AND created_at < :end
    GROUP BY bucket
    """
)
# New members (customers created) and rewards issued, per bucket.
_ACTIVITY_BUCKETS = text(
    """
    SELECT bucket, sum(joined), sum(redeemed)
    FROM (
        SELECT date_trunc(:unit, created_at AT TIME ZONE 'UTC') AS bucket, 1 AS joined,
               0 AS redeemed
        FROM customers
        WHERE merchant_id = :merchant_id AND created_at >= :start AND created_at < :end
        UNION ALL
        SELECT date_trunc(:unit, created_at AT TIME ZONE 'UTC'), 0, 1
        FROM reward_redemptions
        WHERE merchant_id = :merchant_id AND status = 'issued'
          AND created_at >= :start AND created_at < :end
    ) AS happened
    GROUP BY bucket
    """
)

# The points program's shop currency (its settings' default until saved).
_SHOP_CURRENCY = text(
    """
    SELECT coalesce(
        (SELECT config -> 'currencies' ->> 'base' FROM program_settings
         WHERE merchant_id = :merchant_id),
        'USD'
    )
    """
)

_LIABILITY = text(
    """
    WITH valued AS (
        SELECT sum(value_amount) AS value, coalesce(sum(points_spent), 0) AS points
        FROM reward_redemptions
        WHERE merchant_id = :merchant_id AND status = 'issued' AND value_amount IS NOT NULL
          AND coalesce(currency_code, :currency) = :currency AND created_at >= :year_ago
    )
    SELECT (SELECT coalesce(sum(points_balance), 0) FROM customers
            WHERE merchant_id = :merchant_id),
           valued.value,
           valued.points,
           (SELECT max(value / points_cost) FROM rewards
            WHERE merchant_id = :merchant_id AND kind = 'fixed_amount' AND active
              AND deleted_at IS NULL AND value IS NOT NULL)
    FROM valued
    """
)

_ISSUED_CODES = text(
    """
    SELECT code_encrypted, 'loyalty' FROM reward_redemptions
    WHERE merchant_id = :merchant_id AND created_at < :end
    UNION ALL
    SELECT discount_code_encrypted, 'referral' FROM referral_rewards
    WHERE merchant_id = :merchant_id AND created_at < :end AND discount_code_encrypted IS NOT NULL
    """
)


class ReturnRepository:
    """One merchant's ROI aggregates (read-only: the tables belong to their domains)."""

    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    async def codes_issued_before(self, end: datetime) -> tuple[list[str], list[str]]:
        """(reward redemption codes, referral reward codes) issued before ``end``, encrypted."""
        rows = await self._session.execute(
            _ISSUED_CODES, {"merchant_id": self._merchant_id, "end": end}
        )
        loyalty: list[str] = []
        referral: list[str] = []
        for encrypted, kind in rows:
            (loyalty if kind == "loyalty" else referral).append(encrypted)
        return loyalty, referral

    async def order_totals(
        self,
        start: datetime,
        end: datetime,
        *,
        loyalty_codes: Sequence[str],
        referral_codes: Sequence[str],
    ) -> OrderTotals:
        row = (
            await self._session.execute(
                _ORDER_TOTALS, self._judging(start, end, loyalty_codes, referral_codes)
            )
        ).one()
        return OrderTotals(*row)

    def _judging(
        self,
        start: datetime,
        end: datetime,
        loyalty_codes: Sequence[str],
        referral_codes: Sequence[str],
    ) -> dict[str, object]:
        return {
            "merchant_id": self._merchant_id,
            "start": start,
            "end": end,
            "engaged_kinds": list(ENGAGED_KINDS),
            "automatic_earns": list(AUTOMATIC_EARNS),
            "loyalty_codes": [code.upper() for code in loyalty_codes],
            "referral_codes": [code.upper() for code in referral_codes],
        }

    async def order_buckets(
        self,
        start: datetime,
        end: datetime,
        unit: str,
        *,
        loyalty_codes: Sequence[str],
        referral_codes: Sequence[str],
    ) -> dict[datetime, OrderBucket]:
        """Orders of [start, end) per ``unit`` (day, week, month), by the bucket's start (UTC
        wall-clock); buckets without orders are absent."""
        rows = await self._session.execute(
            _ORDER_BUCKETS,
            {
                **self._judging(start, end, loyalty_codes, referral_codes),
                "unit": unit,
            },
        )
        return {
            bucket: OrderBucket(int(n), revenue, influenced)
            for bucket, n, revenue, influenced in rows
        }

    async def points_buckets(
        self, start: datetime, end: datetime, unit: str
    ) -> dict[datetime, PointsFlow]:
        rows = await self._session.execute(
            _POINTS_BUCKETS,
            {"merchant_id": self._merchant_id, "start": start, "end": end, "unit": unit},
        )
        return {bucket: PointsFlow(*(int(value) for value in flow)) for bucket, *flow in rows}

    async def activity_buckets(
        self, start: datetime, end: datetime, unit: str
    ) -> dict[datetime, ActivityBucket]:
        rows = await self._session.execute(
            _ACTIVITY_BUCKETS,
            {"merchant_id": self._merchant_id, "start": start, "end": end, "unit": unit},
        )
        return {
            bucket: ActivityBucket(int(joined), int(redeemed)) for bucket, joined, redeemed in rows
        }

    async def points_flow(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> PointsFlow:
        """Points moved from ``start`` to ``end`` (either open: since the first, until now)."""
        row = (
            await self._session.execute(
                _POINTS_FLOW, {"merchant_id": self._merchant_id, "start": start, "end": end}
            )
        ).one()
        return PointsFlow(*(int(value) for value in row))

    async def shop_currency(self) -> str:
        found = await self._session.execute(_SHOP_CURRENCY, {"merchant_id": self._merchant_id})
        return str(found.scalar_one())

    async def liability_facts(self, currency: str, year_ago: datetime) -> LiabilityFacts:
        """The liability's parts; redemptions count when valued in ``currency`` (the shop's)."""
        row = (
            await self._session.execute(
                _LIABILITY,
                {"merchant_id": self._merchant_id, "currency": currency, "year_ago": year_ago},
            )
        ).one()
        return liability_facts_of(row)


def liability_facts_of(row: Sequence[Any]) -> LiabilityFacts:
    """The liability's parts from a row of (outstanding points, redeemed value, redeemed
    points, catalog value per point): the shape of every liability statement."""
    outstanding, value, points, per_point = row
    return LiabilityFacts(
        outstanding_points=int(outstanding),
        redeemed_value=value,
        redeemed_points=int(points),
        catalog_value_per_point=per_point,
    )
