"""What the program is worth to a shop over a range of time, and what it owes.

Definitions (the GraphQL descriptions say the same):
- An order's revenue is its total less what refunds took back; cancelled orders count
  nothing. Amounts are in the shop currency (the order facts' own).
- Revenue *influenced* by the program: orders by a member who had earned or spent points
  before placing them (not counting what the order itself earned, nor the points every
  account gets by itself: signup and birthday bonuses), or that used a discount
  code the program issued (a redeemed reward, a referral reward), or by a referred friend.
- *Referral* revenue: orders by friends after their referral, and orders using a referral
  reward's code. Its share of revenue is the referral contribution.
- VIP vs members: orders placed while in a VIP tier (the tier recorded on the order) against
  orders of customers with no tier at the time; guest checkouts are in neither.
- Redemption rate = points redeemed (less what failed rewards returned) / points issued in
  the range; breakage = expired / issued.
- The points liability: the points members hold now times what a point is worth — the value
  issued rewards actually gave per point over the last year, else the most a point buys in
  the active catalog (so the liability is never understated) — and, expected, that amount
  less the share that history says will expire (lifetime breakage).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import REFERRAL_REWARDS_DISCOUNT_CODE, REWARD_REDEMPTIONS_CODE
from subgraphs.analytics.roi.repository import (
    LiabilityFacts,
    OrderTotals,
    ReturnRepository,
)
from subgraphs.analytics.roi.repository import PointsFlow as PointsFlow  # a result's part
from subgraphs.kit.errors import BadUserInputError

# A range a dashboard asks for at most: two years of days (the seed and the backfill hold two
# years of orders); each figure is one pass over the range's orders.
MAX_RANGE = timedelta(days=731)
VALUE_WINDOW = timedelta(days=365)
CENT = Decimal("0.01")
RATIO = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class DateRange:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise BadUserInputError("range: give start and end with a time zone offset")
        if self.end <= self.start:
            raise BadUserInputError("range: end must be after start")
        if self.end - self.start > MAX_RANGE:
            raise BadUserInputError("range: at most 731 days")


@dataclass(frozen=True, slots=True)
class Performance:
    """Orders of one group of customers: their count, customers, revenue, and the two numbers
    a merchant compares (average order value, orders per customer)."""

    orders: int
    customers: int
    revenue: Decimal

    @property
    def average_order_value(self) -> Decimal | None:
        return (self.revenue / self.orders).quantize(CENT) if self.orders else None

    @property
    def orders_per_customer(self) -> Decimal | None:
        return (Decimal(self.orders) / self.customers).quantize(RATIO) if self.customers else None


@dataclass(frozen=True, slots=True)
class ProgramReturn:
    range: DateRange
    currency: str
    orders: int
    revenue: Decimal
    influenced_orders: int
    influenced_revenue: Decimal
    referral_orders: int
    referral_revenue: Decimal
    vip: Performance
    members: Performance
    points: PointsFlow

    @property
    def influenced_share(self) -> Decimal | None:
        return share(self.influenced_revenue, self.revenue)

    @property
    def referral_contribution(self) -> Decimal | None:
        return share(self.referral_revenue, self.revenue)

    @property
    def redemption_rate(self) -> Decimal | None:
        return share(Decimal(self.points.redeemed), Decimal(self.points.issued))

    @property
    def breakage(self) -> Decimal | None:
        return share(Decimal(self.points.expired), Decimal(self.points.issued))


class ValueBasis(enum.StrEnum):
    REDEMPTIONS = "redemptions"
    CATALOG = "catalog"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class PointsLiability:
    as_of: datetime
    currency: str
    outstanding_points: int
    value_per_point: Decimal | None
    basis: ValueBasis
    lifetime: PointsFlow

    @property
    def breakage(self) -> Decimal | None:
        return share(Decimal(self.lifetime.expired), Decimal(self.lifetime.issued))

    @property
    def liability(self) -> Decimal | None:
        if self.value_per_point is None:
            return None
        return (self.value_per_point * self.outstanding_points).quantize(CENT)

    @property
    def expected_liability(self) -> Decimal | None:
        liability, breakage = self.liability, self.breakage
        if liability is None:
            return None
        return (liability * (1 - (breakage or 0))).quantize(CENT)


def share(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part / whole`` as a fraction to four places; None when there is no whole."""
    return (part / whole).quantize(RATIO) if whole else None


async def codes_issued_before(
    repository: ReturnRepository, cipher: FieldCipher, end: datetime
) -> tuple[list[str], list[str]]:
    """(reward codes, referral reward codes) the program issued before ``end``. Each is
    encrypted with a fresh nonce (they are as good as money), so they are matched after
    decrypting; a shop issues far fewer codes than it takes orders."""
    loyalty, referral = await repository.codes_issued_before(end)
    return (
        [cipher.decrypt(code, context=REWARD_REDEMPTIONS_CODE) for code in loyalty],
        [cipher.decrypt(code, context=REFERRAL_REWARDS_DISCOUNT_CODE) for code in referral],
    )


async def program_return(
    session: AsyncSession, merchant_id: str, cipher: FieldCipher, window: DateRange
) -> ProgramReturn:
    repository = ReturnRepository(session, merchant_id)
    loyalty, referral = await codes_issued_before(repository, cipher, window.end)
    totals: OrderTotals = await repository.order_totals(
        window.start, window.end, loyalty_codes=loyalty, referral_codes=referral
    )
    flow = await repository.points_flow(window.start, window.end)
    return ProgramReturn(
        range=window,
        currency=await repository.shop_currency(),
        orders=totals.orders,
        revenue=totals.revenue,
        influenced_orders=totals.influenced_orders,
        influenced_revenue=totals.influenced_revenue,
        referral_orders=totals.referral_orders,
        referral_revenue=totals.referral_revenue,
        vip=Performance(totals.vip_orders, totals.vip_customers, totals.vip_revenue),
        members=Performance(totals.member_orders, totals.member_customers, totals.member_revenue),
        points=flow,
    )


async def points_liability(
    session: AsyncSession, merchant_id: str, *, now: datetime
) -> PointsLiability:
    repository = ReturnRepository(session, merchant_id)
    currency = await repository.shop_currency()
    facts: LiabilityFacts = await repository.liability_facts(currency, now - VALUE_WINDOW)
    return liability_of(now, currency, facts, await repository.points_flow())


def liability_of(
    as_of: datetime, currency: str, facts: LiabilityFacts, lifetime: PointsFlow
) -> PointsLiability:
    """The liability at ``as_of`` from its parts (held points, what a point is worth)."""
    value, basis = value_per_point(facts)
    return PointsLiability(
        as_of=as_of,
        currency=currency,
        outstanding_points=facts.outstanding_points,
        value_per_point=value,
        basis=basis,
        lifetime=lifetime,
    )


def value_per_point(facts: LiabilityFacts) -> tuple[Decimal | None, ValueBasis]:
    """What a point is worth, and why: what valued redemptions gave per point, else the most
    the catalog gives. Unrounded: the liability multiplies it by every point held."""
    if facts.redeemed_value is not None and facts.redeemed_points > 0:
        return facts.redeemed_value / facts.redeemed_points, ValueBasis.REDEMPTIONS
    if facts.catalog_value_per_point is not None:
        return facts.catalog_value_per_point, ValueBasis.CATALOG
    return None, ValueBasis.NONE
