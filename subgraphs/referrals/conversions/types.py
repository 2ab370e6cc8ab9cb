"""GraphQL types of referrals: a friend brought by an advocate, its fraud score explained, and
what each side gets."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from db.crypto import FieldCipher
from db.models import Referral as ReferralRow
from db.models import ReferralReward as RewardRow
from db.models import ReferralRewardStatus, ReferralStatus
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.fields import from_attributes
from subgraphs.kit.graphql.node import NODE_ID_DESCRIPTION, CustomerKey, global_id, local_id
from subgraphs.kit.graphql.relay import Connection, paged, to_connection
from subgraphs.kit.graphql.scalars import UnsignedInt64
from subgraphs.kit.graphql.user_errors import user_errors_field
from subgraphs.kit.pagination import PageRequest, time_ordered_page, time_ordered_position
from subgraphs.kit.permissions import Capability, require, require_customer_access
from subgraphs.referrals.conversions import reads, service
from subgraphs.referrals.conversions.fraud import FraudReason
from subgraphs.referrals.conversions.payouts import reward_discount_code
from subgraphs.referrals.loaders import ReferralsInfo
from subgraphs.referrals.program.service import RTL_LOCALES, referral_program
from subgraphs.referrals.program.types import ReferralRewardKind, ReferralText
from subgraphs.referrals.types import ReferralLink, ReferralUserError


@strawberry.federation.type(keys=["id"], description="A shopper enrolled in the loyalty program.")
class Customer(CustomerKey):
    @strawberry.field(description="The customer's referral link, if one was created.")
    async def referral_link(self, info: ReferralsInfo) -> ReferralLink | None:
        require_customer_access(info.context.viewer, self.customer_id)
        row = await info.context.loaders.referral_link_by_advocate.load(self.customer_id)
        return None if row is None else ReferralLink.from_row(row, info)

    @strawberry.field(description="The friends this customer referred, newest first.")
    @paged(time_ordered_page)
    async def referrals(self, info: ReferralsInfo, *, paging: PageRequest) -> Connection[Referral]:
        require_customer_access(info.context.viewer, self.customer_id)
        page = await info.context.loaders.referrals_page_by_advocate.load(
            (self.customer_id, paging)
        )
        return to_connection(page, position=time_ordered_position, node=Referral.from_row)

    @strawberry.field(description="How far the customer is towards the next referral tier.")
    async def referral_progress(self, info: ReferralsInfo) -> ReferralProgress:
        require_customer_access(info.context.viewer, self.customer_id)
        async with info.context.unit_of_work() as session:
            where = await reads.progress(session, info.context.viewer.merchant_id, self.customer_id)
        return ReferralProgress(
            completed_referrals=UnsignedInt64(where.completed),
            next_tier_from_count=where.next_tier_from,
            next_tier_points=where.next_tier_points,
            referrals_to_next_tier=(
                None if where.next_tier_from is None else where.next_tier_from - where.completed
            ),
        )

    @strawberry.field(
        description="The referral page's incentive text for this customer, in their language "
        "when the program has one in it, else in English; right to left for ar and he."
    )
    async def referral_incentive(
        self,
        info: ReferralsInfo,
        locale: Annotated[
            str,
            strawberry.argument(
                description="The shopper's locale as the storefront knows it (fr, fr-CA, he...)."
            ),
        ] = "en",
    ) -> ReferralText:
        require_customer_access(info.context.viewer, self.customer_id)
        async with info.context.unit_of_work() as session:
            program, _ = await referral_program(session, info.context.viewer.merchant_id)
        language, text = program.text_for(locale)
        return ReferralText(locale=language, text=text, right_to_left=language in RTL_LOCALES)


@strawberry.type(description="An advocate's way to the next referral tier.")
class ReferralProgress:
    completed_referrals: UnsignedInt64 = strawberry.field(
        description="Referrals of theirs that completed."
    )
    next_tier_from_count: int | None = strawberry.field(
        description="The completed referral from which the next tier pays; null past the last."
    )
    next_tier_points: int | None = strawberry.field(
        description="What each referral pays from then on; null past the last tier."
    )
    referrals_to_next_tier: int | None = strawberry.field(
        description="How many more completed referrals reach the next tier; null past the last."
    )


ReferralStatusEnum = domain_enum(
    ReferralStatus,
    name="ReferralStatus",
    description="Where a referral stands.",
    values={
        "PENDING": "The friend was attributed; their first qualifying order is awaited.",
        "COMPLETED": "The friend's qualifying order completed it; rewards follow.",
        "EXPIRED": "The link had expired before the friend ordered.",
        "REJECTED": "Staff rejected it after review; no reward is paid.",
    },
)
ReferralSourceEnum = domain_enum(
    service.AttributionSource,
    name="ReferralSource",
    description="How the friend was attributed to the advocate.",
    values={
        "CUSTOMER_CREATE": "The code came with the friend's signup.",
        "ORDER": "The code came with the friend's first order (cart attribute or landing page).",
        "DISCOUNT_CODE": "The friend used their referral discount code.",
        "CLAIM": "The friend entered the code in the storefront (referralClaim).",
    },
)
FraudReasonEnum = domain_enum(
    FraudReason,
    name="ReferralFraudReason",
    description="A signal that a referral may not be what it seems.",
    values={
        "SAME_IP": "The friend ordered from the advocate's IP address.",
        "SAME_DEVICE": "The friend used the advocate's browser.",
        "SAME_MAILBOX": "The friend's email delivers to the advocate's mailbox (a +tag or "
        "Gmail dots).",
        "SIMILAR_EMAIL": "The friend's email is a near copy of the advocate's.",
        "DISPOSABLE_EMAIL": "The friend's email is on a throw-away domain.",
        "SAME_ADDRESS": "The friend ships to the advocate's address.",
        "SAME_PHONE": "The friend has the advocate's phone number.",
        "REFERRAL_BURST": "The advocate brought many friends within a day.",
    },
)
RewardStatusEnum = domain_enum(
    ReferralRewardStatus,
    name="ReferralRewardStatus",
    description="Where one side's reward stands.",
    values={
        "PENDING": "Waiting for its release time (the advocate's hold period).",
        "HELD": "The referral looks suspicious: waiting for staff review.",
        "ISSUED": "Paid.",
        "CANCELLED": "Will not be paid (the order was cancelled or refunded in time, or the "
        "referral was rejected).",
        "FAILED": "A discount code Shopify refused to create; `error` says why.",
    },
)
DecisionEnum = domain_enum(
    service.Decision,
    name="ReferralDecision",
    description="Staff's decision on a held referral.",
    values={"APPROVE": "Release its rewards.", "REJECT": "Cancel its rewards and reject it."},
)


@strawberry.type(description="One reason a referral's fraud score is what it is.")
class ReferralFraudSignal:
    reason: FraudReasonEnum = strawberry.field(description="The signal.")  # type: ignore[valid-type]
    weight: Decimal = strawberry.field(description="How much it counts, 0 to 1.")
    detail: str = strawberry.field(description="What matched, in words.")


@strawberry.type(description="What one side of a referral gets, and when.")
class ReferralRewardGrant:
    side: str = strawberry.field(description="advocate or friend.")
    kind: ReferralRewardKind = strawberry.field(description="Points or a discount.")  # type: ignore[valid-type]
    points: int | None = strawberry.field(description="Points (POINTS).")
    status: RewardStatusEnum = strawberry.field(description="Where it stands.")  # type: ignore[valid-type]
    release_at: datetime = strawberry.field(description="When it is (or was) due.")
    issued_at: datetime | None = strawberry.field(description="When it was paid.")
    value: Decimal | None = strawberry.field(
        default=None,
        description="Percent (PERCENTAGE) or amount in the shop currency (FIXED_AMOUNT).",
    )
    # Who receives it, and its code (decrypted): shown to that customer only.
    owner_customer_id: strawberry.Private[str | None] = None
    code: strawberry.Private[str | None] = None
    failure: strawberry.Private[str | None] = None

    @classmethod
    def from_row(
        cls,
        row: RewardRow,
        *,
        owner_customer_id: str | None = None,
        cipher: FieldCipher | None = None,
    ) -> ReferralRewardGrant:
        return from_attributes(
            cls,
            row,
            kind=ReferralRewardKind(row.kind),
            status=ReferralRewardStatus(row.status),
            owner_customer_id=owner_customer_id,
            code=None if cipher is None else reward_discount_code(row, cipher),
            failure=row.last_error,
        )

    @strawberry.field(
        description="The single-use discount code, once issued (discount rewards); shown only "
        "to the customer it was made for, signed in to the storefront."
    )
    def discount_code(self, info: ReferralsInfo) -> str | None:
        viewer = info.context.viewer
        if viewer.customer_id is None or viewer.customer_id != self.owner_customer_id:
            return None
        return self.code

    @strawberry.field(description="Why Shopify refused the discount (FAILED); staff only.")
    def error(self, info: ReferralsInfo) -> str | None:
        return None if info.context.viewer.customer_id is not None else self.failure


@strawberry.federation.type(keys=["id"], description="A friend an advocate brought to the shop.")
class Referral:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    status: ReferralStatusEnum = strawberry.field(description="Where it stands.")  # type: ignore[valid-type]
    source: ReferralSourceEnum = strawberry.field(description="How it was attributed.")  # type: ignore[valid-type]
    advocate: Customer = strawberry.field(description="Who shared the link.")
    friend: Customer = strawberry.field(description="Who came through it.")
    fraud_score: Decimal = strawberry.field(
        description="0 (nothing suspicious) to 1; at or above the program's threshold the "
        "rewards wait for review."
    )
    fraud_signals: list[ReferralFraudSignal] = strawberry.field(
        description="Why the score is what it is."
    )
    qualifying_order_id: str | None = strawberry.field(
        description="The Shopify order that completed it."
    )
    created_at: datetime = strawberry.field(description="When the friend was attributed.")
    completed_at: datetime | None = strawberry.field(description="When it completed.")
    advocate_customer_id: strawberry.Private[str | None] = None
    friend_customer_id: strawberry.Private[str | None] = None

    @classmethod
    def from_row(cls, row: ReferralRow) -> Referral:
        return from_attributes(
            cls,
            row,
            id=global_id("Referral", row.id),
            status=ReferralStatus(row.status),
            source=service.AttributionSource(row.source),
            advocate=Customer.of(row.advocate_customer_id),
            friend=Customer.of(row.friend_customer_id),
            fraud_score=Decimal(row.fraud_score),
            fraud_signals=[_signal(signal) for signal in row.fraud_reasons],
        )

    @classmethod
    async def resolve_reference(cls, info: ReferralsInfo, id: strawberry.ID) -> Referral | None:
        """A refetch by global ID: staff who read customers, or the friend themselves."""
        row = await info.context.loaders.referral_by_id.load(local_id(id, "Referral"))
        if row is None:
            return None
        viewer = info.context.viewer
        if viewer.customer_id is not None:
            require_customer_access(viewer, row.friend_customer_id)
        else:
            require(viewer, Capability.READ_CUSTOMERS)
        return cls.from_row(row)

    @strawberry.field(description="What each side gets (empty until it completes).")
    async def rewards(self, info: ReferralsInfo) -> list[ReferralRewardGrant]:
        rows = await info.context.loaders.rewards_by_referral.load(local_id(self.id, "Referral"))
        owners = {
            service.ADVOCATE: self.advocate_customer_id,
            service.FRIEND: self.friend_customer_id,
        }
        cipher = info.context.resources.cipher
        return [
            ReferralRewardGrant.from_row(row, owner_customer_id=owners.get(row.side), cipher=cipher)
            for row in rows
        ]


def _signal(stored: dict[str, Any]) -> ReferralFraudSignal:
    return ReferralFraudSignal(
        reason=FraudReason(stored["reason"]),
        weight=Decimal(stored["weight"]),
        detail=str(stored["detail"]),
    )


@strawberry.input(description="Staff's decision on a held referral.")
class ReferralReviewInput:
    id: strawberry.ID = strawberry.field(description="The held referral (its global ID).")
    decision: DecisionEnum = strawberry.field(description="Approve or reject.")  # type: ignore[valid-type]


@strawberry.type(description="The result of referralReview.")
class ReferralReviewPayload:
    rewards: list[ReferralRewardGrant] = strawberry.field(
        default_factory=list, description="The rewards the decision moved."
    )
    user_errors: list[ReferralUserError] = user_errors_field()


@strawberry.input(description="A code the shopper entered in the storefront.")
class ReferralClaimInput:
    code: str = strawberry.field(description="The advocate's referral code.")


@strawberry.type(description="The result of referralClaim.")
class ReferralClaimPayload:
    referral: Referral | None = strawberry.field(
        default=None, description="The shopper's referral (the first one, if referred already)."
    )
    user_errors: list[ReferralUserError] = user_errors_field()


@strawberry.type(description="One UTC day of the referral program.")
class ReferralAnalyticsDay:
    day: date = strawberry.field(description="The UTC day.")
    clicks: UnsignedInt64 = strawberry.field(description="Link clicks (one per visitor a day).")
    unique_visitors: UnsignedInt64 = strawberry.field(description="Distinct visitors.")
    referrals: UnsignedInt64 = strawberry.field(description="Friends attributed.")
    conversions: UnsignedInt64 = strawberry.field(description="Referrals completed.")
    revenue: Decimal = strawberry.field(
        description="Subtotal of the completing orders, in the shop currency."
    )

    @classmethod
    def of(cls, day: reads.ReferralDay) -> ReferralAnalyticsDay:
        return cls(
            day=day.day,
            clicks=UnsignedInt64(day.clicks),
            unique_visitors=UnsignedInt64(day.unique_visitors),
            referrals=UnsignedInt64(day.referrals),
            conversions=UnsignedInt64(day.conversions),
            revenue=day.revenue,
        )


@strawberry.type(description="An advocate and what their referrals brought in the range.")
class ReferralTopAdvocate:
    advocate: Customer = strawberry.field(description="The advocate.")
    conversions: UnsignedInt64 = strawberry.field(description="Their completed referrals.")
    revenue: Decimal = strawberry.field(description="Their friends' qualifying orders' subtotal.")


@strawberry.type(description="How the referral program did over a range of days.")
class ReferralAnalytics:
    first_day: date = strawberry.field(description="The first UTC day of the range.")
    last_day: date = strawberry.field(description="The last UTC day of the range.")
    clicks: UnsignedInt64 = strawberry.field(description="Link clicks in the range.")
    unique_visitors: UnsignedInt64 = strawberry.field(
        description="Distinct visitors over the whole range (not the sum of the days')."
    )
    referrals: UnsignedInt64 = strawberry.field(description="Friends attributed.")
    conversions: UnsignedInt64 = strawberry.field(description="Referrals completed.")
    conversion_rate: Decimal | None = strawberry.field(
        description="Conversions per unique visitor, 0 to 1; null without visitors."
    )
    revenue: Decimal = strawberry.field(
        description="Subtotal of the orders that completed referrals, in the shop currency."
    )
    rewarded_points: UnsignedInt64 = strawberry.field(
        description="Points paid to advocates and friends in the range: what it cost."
    )
    days: list[ReferralAnalyticsDay] = strawberry.field(description="Day by day, oldest first.")
    top_advocates: list[ReferralTopAdvocate] = strawberry.field(
        description="The 10 advocates with the most conversions in the range."
    )

    @classmethod
    def of(cls, report: reads.ReferralReport) -> ReferralAnalytics:
        visitors = report.unique_visitors
        return cls(
            first_day=report.first,
            last_day=report.last,
            clicks=UnsignedInt64(report.clicks),
            unique_visitors=UnsignedInt64(visitors),
            referrals=UnsignedInt64(report.referrals),
            conversions=UnsignedInt64(report.conversions),
            conversion_rate=(
                None
                if visitors == 0
                else (Decimal(report.conversions) / visitors).quantize(Decimal("0.0001"))
            ),
            revenue=report.revenue,
            rewarded_points=UnsignedInt64(report.rewarded_points),
            days=[ReferralAnalyticsDay.of(day) for day in report.days],
            top_advocates=[
                ReferralTopAdvocate(
                    advocate=Customer.of(top.customer_id),
                    conversions=UnsignedInt64(top.conversions),
                    revenue=top.revenue,
                )
                for top in report.top_advocates
            ],
        )
