"""GraphQL types of RFM: thresholds, presets, segment counts, and a customer's scores."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from db.models import LifecycleStage
from subgraphs.analytics.churn.types import CustomerChurn
from subgraphs.analytics.loaders import AnalyticsInfo
from subgraphs.analytics.rfm.service import (
    Benchmark,
    CustomerRfm,
    RfmThresholds,
    SegmentCount,
    SegmentRule,
)
from subgraphs.analytics.user_errors import AnalyticsUserError
from subgraphs.kit.graphql.fields import from_attributes
from subgraphs.kit.graphql.node import CustomerKey, global_id
from subgraphs.kit.graphql.scalars import UnsignedInt64
from subgraphs.kit.graphql.user_errors import user_errors_field
from subgraphs.kit.permissions import Capability, require


@strawberry.type(
    description="The band edges of the three RFM scores (1-5). Recency: R5 up to the first "
    "number of days, R4 up to the second, R3 the third, R2 the fourth, R1 beyond. Frequency: "
    "F2 from the first number of orders, up to F5 from the fourth. Monetary: the customer's "
    "spend as a multiple of the shop's average order value, M2 from the first multiple up to "
    "M5 from the fourth."
)
class RfmThresholdSettings:
    recency_days: list[int] = strawberry.field(
        description="Days since the last order bounding R5, R4, R3 and R2 (inclusive)."
    )
    frequency_orders: list[int] = strawberry.field(
        description="Orders from which a customer scores F2, F3, F4 and F5."
    )
    monetary_aov_multiples: list[Decimal] = strawberry.field(
        description="Multiples of the average order value from which spend scores M2 to M5."
    )
    time_weighted: bool = strawberry.field(
        description="Subscription shops: recency counts from when the customer's usual gap "
        "between orders was over, not from the last order."
    )

    @classmethod
    def of(cls, thresholds: RfmThresholds) -> RfmThresholdSettings:
        return cls(
            recency_days=list(thresholds.recency_days),
            frequency_orders=list(thresholds.frequency_orders),
            monetary_aov_multiples=list(thresholds.monetary_aov_multiples),
            time_weighted=thresholds.time_weighted,
        )


@strawberry.type(description="The shop's RFM thresholds and their version.")
class RfmThresholdsSettings:
    thresholds: RfmThresholdSettings = strawberry.field(description="The band edges.")
    version: int = strawberry.field(
        description="Bumped on every save (0: never saved, the defaults); send it back as "
        "expectedVersion to refuse overwriting a newer save."
    )


@strawberry.type(
    description="A preset of RFM thresholds for a kind of shop. LoyalNest's defaults after "
    "the specification's examples, not measured industry data."
)
class RfmBenchmark:
    industry: str = strawberry.field(description="The kind of shop, e.g. Pet Store.")
    description: str = strawberry.field(description="What the preset assumes.")
    thresholds: RfmThresholdSettings = strawberry.field(description="Its band edges.")

    @classmethod
    def of(cls, benchmark: Benchmark) -> RfmBenchmark:
        return cls(
            industry=benchmark.industry,
            description=benchmark.description,
            thresholds=RfmThresholdSettings.of(benchmark.thresholds),
        )


@strawberry.type(description="How many customers are in one RFM segment.")
class RfmSegmentCount:
    segment: str = strawberry.field(description="The segment's name, e.g. Champions.")
    customer_count: UnsignedInt64 = strawberry.field(
        description="Customers in it at the last full recompute (nightly)."
    )

    @classmethod
    def of(cls, count: SegmentCount) -> RfmSegmentCount:
        return cls(segment=count.segment, customer_count=UnsignedInt64(count.customers))


@strawberry.type(description="A customer's RFM scores (1-5 each) and the segment they make.")
class CustomerRfmScores:
    recency: int = strawberry.field(description="How recently they ordered (5: most recently).")
    frequency: int = strawberry.field(description="How often they ordered (5: most often).")
    monetary: int = strawberry.field(description="How much they spent (5: the most).")
    score: Decimal = strawberry.field(description="The mean of the three, to two decimals.")
    segment: str | None = strawberry.field(
        description="The first segment whose rules the scores meet (merchant-defined ones "
        "first, then Champions, Loyal, New, At-Risk, Inactive); null when none does."
    )

    @classmethod
    def of(cls, rfm: CustomerRfm) -> CustomerRfmScores:
        return from_attributes(cls, rfm)


@strawberry.federation.type(keys=["id"], description="A shopper enrolled in the loyalty program.")
class Customer(CustomerKey):
    @strawberry.field(
        description="The customer's RFM scores and segment, from their order facts; null "
        "before their first order is scored."
    )
    async def rfm(self, info: AnalyticsInfo) -> CustomerRfmScores | None:
        require(info.context.viewer, Capability.READ_ANALYTICS)
        rfm = await info.context.loaders.rfm_by_customer.load(self.customer_id)
        return None if rfm is None else CustomerRfmScores.of(rfm)

    @strawberry.field(
        description="How likely the customer is to leave, from the shop's churn model, and "
        "their lifecycle stage."
    )
    async def churn(self, info: AnalyticsInfo) -> CustomerChurn:
        require(info.context.viewer, Capability.READ_ANALYTICS)
        score, stage = await info.context.loaders.churn_by_customer.load(self.customer_id)
        return CustomerChurn(
            score=score, lifecycle_stage=None if stage is None else LifecycleStage(stage)
        )


@strawberry.input(
    description="Change the RFM thresholds; omitted fields keep their value (or the preset's)."
)
class RfmThresholdsUpdateInput:
    preset: str | None = strawberry.field(
        default=None,
        description="Start from this preset of rfmBenchmarks (its industry) instead of the "
        "current thresholds.",
    )
    recency_days: list[int] | None = strawberry.field(
        default=None, description="Four day counts, rising strictly."
    )
    frequency_orders: list[int] | None = strawberry.field(
        default=None, description="Four order counts, rising strictly, the first at least 2."
    )
    monetary_aov_multiples: list[Decimal] | None = strawberry.field(
        default=None, description="Four multiples of the average order value, rising strictly."
    )
    time_weighted: bool | None = strawberry.field(
        default=None, description="Time-weighted recency (subscription shops)."
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse the change if the thresholds moved past this version."
    )

    def to_changes(self) -> dict[str, object]:
        changes: dict[str, object] = {}
        for name in ("recency_days", "frequency_orders", "time_weighted"):
            value = getattr(self, name)
            if value is not None:
                changes[name] = value
        if self.monetary_aov_multiples is not None:
            changes["monetary_aov_multiples"] = [
                str(value) for value in self.monetary_aov_multiples
            ]
        return changes


@strawberry.type(description="Result of rfmThresholdsUpdate.")
class RfmThresholdsUpdatePayload:
    rfm_thresholds: RfmThresholdsSettings | None = strawberry.field(
        default=None, description="The thresholds as saved; null when nothing was changed."
    )
    user_errors: list[AnalyticsUserError] = user_errors_field()


@strawberry.input(description="A range of one RFM score, bounds included.")
class ScoreRangeInput:
    min: int = strawberry.field(default=1, description="The lowest score in it, 1 to 5.")
    max: int = strawberry.field(default=5, description="The highest score in it, 1 to 5.")


@strawberry.type(description="A range of one RFM score, bounds included.")
class ScoreRange:
    min: int = strawberry.field(description="The lowest score in it.")
    max: int = strawberry.field(description="The highest score in it.")


@strawberry.type(
    description="A merchant-defined RFM segment: customers whose scores fall in all three "
    "ranges, checked by priority before the built-in segments."
)
class RfmSegment:
    id: strawberry.ID = strawberry.field(description="The segment's global ID.")
    name: str = strawberry.field(description="Its name, unique in the shop.")
    priority: int = strawberry.field(description="Checked in ascending order, 1 to 99.")
    recency: ScoreRange = strawberry.field(description="Recency scores in the segment.")
    frequency: ScoreRange = strawberry.field(description="Frequency scores in the segment.")
    monetary: ScoreRange = strawberry.field(description="Monetary scores in the segment.")

    @classmethod
    def of(cls, segment_id: str, rule: SegmentRule) -> RfmSegment:
        def scores(bounds: tuple[int, int]) -> ScoreRange:
            return ScoreRange(min=bounds[0], max=bounds[1])

        return cls(
            id=strawberry.ID(global_id("RfmSegment", segment_id)),
            name=rule.name,
            priority=rule.priority,
            recency=scores(rule.recency),
            frequency=scores(rule.frequency),
            monetary=scores(rule.monetary),
        )


@strawberry.input(description="A new merchant-defined RFM segment.")
class RfmSegmentCreateInput:
    name: str = strawberry.field(description="Unique in the shop, 1 to 60 characters.")
    priority: int = strawberry.field(
        default=50, description="Checked in ascending order, 1 to 99 (built-in ones follow)."
    )
    recency: ScoreRangeInput | None = strawberry.field(
        default=None, description="Recency scores in it (default: all)."
    )
    frequency: ScoreRangeInput | None = strawberry.field(
        default=None, description="Frequency scores in it (default: all)."
    )
    monetary: ScoreRangeInput | None = strawberry.field(
        default=None, description="Monetary scores in it (default: all)."
    )

    def to_rule(self) -> SegmentRule:
        def bounds(scores: ScoreRangeInput | None) -> tuple[int, int]:
            return (1, 5) if scores is None else (scores.min, scores.max)

        return SegmentRule(
            self.name,
            self.priority,
            recency=bounds(self.recency),
            frequency=bounds(self.frequency),
            monetary=bounds(self.monetary),
        )


@strawberry.type(description="Result of rfmSegmentCreate.")
class RfmSegmentCreatePayload:
    rfm_segment: RfmSegment | None = strawberry.field(
        default=None, description="The segment; null when nothing was created."
    )
    user_errors: list[AnalyticsUserError] = user_errors_field("Why nothing was created.")


@strawberry.input(description="Remove a merchant-defined RFM segment.")
class RfmSegmentDeleteInput:
    id: strawberry.ID = strawberry.field(description="The segment's global ID.")


@strawberry.type(description="Result of rfmSegmentDelete.")
class RfmSegmentDeletePayload:
    deleted_rfm_segment_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The segment removed; null if there was none (deletes are idempotent).",
    )
    user_errors: list[AnalyticsUserError] = user_errors_field("Why nothing was removed.")
