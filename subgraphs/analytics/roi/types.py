"""GraphQL types of ROI and the points liability."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from subgraphs.analytics.roi import series, service
from subgraphs.kit.graphql.codes import CurrencyCode, currency
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.scalars import UnsignedInt64

# Shown to six places; the liability itself is computed from the exact value.
VALUE_PER_POINT_PLACES = Decimal("0.000001")


@strawberry.federation.type(shareable=True, description="An amount in a currency.")
class Money:
    amount: Decimal = strawberry.field(description="Decimal amount, as a string.")
    currency_code: CurrencyCode = strawberry.field(description="ISO 4217 currency code.")

    @classmethod
    def of(cls, amount: Decimal, code: str) -> Money:
        return cls(amount=amount, currency_code=currency(code))


@strawberry.input(description="A span of time: from `start` (included) to `end` (excluded).")
class DateTimeRangeInput:
    start: datetime = strawberry.field(
        description="Its first instant, with a time zone offset (e.g. the shop's local midnight)."
    )
    end: datetime = strawberry.field(
        description="The instant after it, with an offset; at most 731 days after `start`."
    )

    def to_range(self) -> service.DateRange:
        return service.DateRange(self.start, self.end)


@strawberry.type(description="Orders of one group of customers over the range.")
class GroupPerformance:
    orders: UnsignedInt64 = strawberry.field(description="Orders the group placed.")
    customers: UnsignedInt64 = strawberry.field(description="Customers who placed them.")
    revenue: Money = strawberry.field(description="Their revenue, net of refunds.")
    average_order_value: Money | None = strawberry.field(
        description="Revenue per order; null without orders."
    )
    orders_per_customer: Decimal | None = strawberry.field(
        description="Orders per customer (purchase frequency); null without customers."
    )

    @classmethod
    def of(cls, group: service.Performance, code: str) -> GroupPerformance:
        average = group.average_order_value
        return cls(
            orders=UnsignedInt64(group.orders),
            customers=UnsignedInt64(group.customers),
            revenue=Money.of(group.revenue, code),
            average_order_value=None if average is None else Money.of(average, code),
            orders_per_customer=group.orders_per_customer,
        )


@strawberry.type(description="Points moved over the range.")
class PointsFlow:
    issued: UnsignedInt64 = strawberry.field(
        description="Points credited: earned, referral and campaign bonuses, imports and "
        "positive adjustments (not points given back for a failed reward)."
    )
    reversed: UnsignedInt64 = strawberry.field(
        description="Points taken back because their order was refunded or cancelled."
    )
    redeemed: UnsignedInt64 = strawberry.field(
        description="Points spent on rewards, less those given back when a reward failed."
    )
    expired: UnsignedInt64 = strawberry.field(description="Points lost to expiry.")

    @classmethod
    def of(cls, flow: service.PointsFlow) -> PointsFlow:
        return cls(
            issued=UnsignedInt64(flow.issued),
            reversed=UnsignedInt64(flow.reversed),
            redeemed=UnsignedInt64(flow.redeemed),
            expired=UnsignedInt64(flow.expired),
        )


@strawberry.type(
    description="Is the program paying: what it influenced over a range of time, in the shop "
    "currency. Cancelled orders count nothing; refunds are taken off their orders."
)
class ProgramReturn:
    start: datetime = strawberry.field(description="The range's first instant.")
    end: datetime = strawberry.field(description="The instant after the range.")
    orders: UnsignedInt64 = strawberry.field(description="Orders placed in the range.")
    revenue: Money = strawberry.field(description="Their revenue, net of refunds.")
    influenced_orders: UnsignedInt64 = strawberry.field(
        description="Orders the program influenced (see `revenueInfluenced`)."
    )
    revenue_influenced: Money = strawberry.field(
        description="Revenue of orders by members who had earned or spent points before "
        "ordering (what the order itself earns, and signup and birthday bonuses, do not "
        "count), of orders using a discount "
        "code the program issued (a reward, a referral reward), and of referred friends' orders."
    )
    influenced_share: Decimal | None = strawberry.field(
        description="`revenueInfluenced` / `revenue`, 0 to 1; null without revenue."
    )
    referral_orders: UnsignedInt64 = strawberry.field(
        description="Orders by referred friends after their referral, or using a referral "
        "reward's code."
    )
    referral_revenue: Money = strawberry.field(description="The revenue of `referralOrders`.")
    referral_contribution: Decimal | None = strawberry.field(
        description="`referralRevenue` / `revenue`, 0 to 1; null without revenue."
    )
    vip: GroupPerformance = strawberry.field(
        description="Orders placed while their customer held a VIP tier."
    )
    non_vip: GroupPerformance = strawberry.field(
        description="Orders of customers without a tier at the time (guest checkouts are in "
        "neither group)."
    )
    points: PointsFlow = strawberry.field(description="Points moved in the range.")
    redemption_rate: Decimal | None = strawberry.field(
        description="Points redeemed / points issued in the range; null when none were issued."
    )
    breakage: Decimal | None = strawberry.field(
        description="Points expired / points issued in the range; null when none were issued."
    )

    @classmethod
    def of(cls, result: service.ProgramReturn) -> ProgramReturn:
        code = result.currency
        return cls(
            start=result.range.start,
            end=result.range.end,
            orders=UnsignedInt64(result.orders),
            revenue=Money.of(result.revenue, code),
            influenced_orders=UnsignedInt64(result.influenced_orders),
            revenue_influenced=Money.of(result.influenced_revenue, code),
            influenced_share=result.influenced_share,
            referral_orders=UnsignedInt64(result.referral_orders),
            referral_revenue=Money.of(result.referral_revenue, code),
            referral_contribution=result.referral_contribution,
            vip=GroupPerformance.of(result.vip, code),
            non_vip=GroupPerformance.of(result.members, code),
            points=PointsFlow.of(result.points),
            redemption_rate=result.redemption_rate,
            breakage=result.breakage,
        )


PointValueBasis = domain_enum(
    service.ValueBasis,
    name="PointValueBasis",
    description="Where the value of a point comes from.",
    values={
        "REDEMPTIONS": "What issued fixed-amount rewards gave per point spent over the last "
        "year: what points have actually cost the shop.",
        "CATALOG": "No valued redemption in a year: the most a point buys among the active "
        "fixed-amount rewards.",
        "NONE": "Neither: the shop has no fixed-amount reward, so points have no money value.",
    },
)


@strawberry.type(
    description="What the program owes its members at an instant (now, or the end of a "
    "snapshot day): the points they hold, valued the way an accountant books a loyalty "
    "liability, in the shop currency."
)
class PointsLiability:
    as_of: datetime = strawberry.field(
        description="The instant it is of: when `pointsLiability` computed it, or the end of "
        "a `roiHistory` day."
    )
    outstanding_points: UnsignedInt64 = strawberry.field(
        description="Points members held at `asOf`: the sum of balances, which is the signed "
        "sum of the ledger before it."
    )
    value_per_point: Money | None = strawberry.field(
        description="What one point is worth, to six places: what issued rewards gave per "
        "point over the year before `asOf`, else the most a point buys among active fixed-amount "
        "rewards; null when neither exists."
    )
    value_basis: PointValueBasis = strawberry.field(  # type: ignore[valid-type]
        description="Which of the two `valuePerPoint` comes from."
    )
    liability: Money | None = strawberry.field(
        description="`outstandingPoints` times `valuePerPoint`, to the cent."
    )
    breakage: Decimal | None = strawberry.field(
        description="Points expired / points issued before `asOf`, 0 to 1: the share history "
        "says will never be spent. Null when no points were issued."
    )
    expected_liability: Money | None = strawberry.field(
        description="`liability` less the share `breakage` says will expire."
    )
    lifetime: PointsFlow = strawberry.field(
        description="Every point the program moved before `asOf`."
    )

    @classmethod
    def of(cls, owed: service.PointsLiability) -> PointsLiability:
        code = owed.currency
        value, liability, expected = owed.value_per_point, owed.liability, owed.expected_liability
        return cls(
            as_of=owed.as_of,
            outstanding_points=UnsignedInt64(owed.outstanding_points),
            value_per_point=None
            if value is None
            else Money.of(value.quantize(VALUE_PER_POINT_PLACES), code),
            value_basis=owed.basis,
            liability=None if liability is None else Money.of(liability, code),
            breakage=owed.breakage,
            expected_liability=None if expected is None else Money.of(expected, code),
            lifetime=PointsFlow.of(owed.lifetime),
        )


AnalyticsGranularity = domain_enum(
    series.Granularity,
    name="AnalyticsGranularity",
    description="How long one bucket of a series is (UTC calendar units).",
    values={
        "DAY": "A calendar day.",
        "WEEK": "An ISO week, from Monday.",
        "MONTH": "A calendar month.",
    },
)


@strawberry.type(
    description="One bucket of the series: one bar of a chart. The first and last may be cut "
    "by the range."
)
class LoyaltyBucket:
    start: datetime = strawberry.field(
        description="The calendar start of the bucket (UTC), e.g. the Monday of its week."
    )
    points: PointsFlow = strawberry.field(description="Points moved in the bucket.")
    new_members: UnsignedInt64 = strawberry.field(description="Customers who joined.")
    rewards_redeemed: UnsignedInt64 = strawberry.field(
        description="Rewards redeemed and issued (not those refunded when they failed)."
    )
    orders: UnsignedInt64 = strawberry.field(description="Orders placed (not cancelled).")
    revenue: Money = strawberry.field(description="Their revenue, net of refunds.")
    revenue_influenced: Money = strawberry.field(
        description="The revenue the program influenced, as `ProgramReturn.revenueInfluenced`."
    )

    @classmethod
    def of(cls, bucket: series.SeriesBucket, code: str) -> LoyaltyBucket:
        return cls(
            start=bucket.start,
            points=PointsFlow.of(bucket.points),
            new_members=UnsignedInt64(bucket.new_members),
            rewards_redeemed=UnsignedInt64(bucket.rewards_redeemed),
            orders=UnsignedInt64(bucket.orders),
            revenue=Money.of(bucket.revenue, code),
            revenue_influenced=Money.of(bucket.revenue_influenced, code),
        )


@strawberry.type(
    description="The program over time, bucket by bucket, ready for bar and line charts: "
    "every bucket of the range is there, empty ones too."
)
class LoyaltyAnalytics:
    granularity: AnalyticsGranularity = strawberry.field(  # type: ignore[valid-type]
        description="How long each bucket is."
    )
    buckets: list[LoyaltyBucket] = strawberry.field(description="In time order.")

    @classmethod
    def of(cls, result: series.LoyaltySeries) -> LoyaltyAnalytics:
        return cls(
            granularity=result.granularity,
            buckets=[LoyaltyBucket.of(bucket, result.currency) for bucket in result.buckets],
        )
