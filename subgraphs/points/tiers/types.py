"""VIP tiers as GraphQL: the tiers, their editing inputs and the preview of draft tiers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from db.models import VipTier as VipTierRow
from subgraphs.kit.graphql.fields import create_key_field, expected_version_field, version_field
from subgraphs.kit.graphql.node import NODE_ID_DESCRIPTION, global_id, local_id, local_ids
from subgraphs.kit.graphql.scalars import UnsignedInt64
from subgraphs.kit.graphql.user_errors import user_errors_field
from subgraphs.kit.permissions import require_catalog_read
from subgraphs.points.errors import MAX_CREATE_KEY_LENGTH
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.money import Money, shop_money
from subgraphs.points.tiers import preview
from subgraphs.points.tiers.rules import TierBenefits, TierRules, localized_name
from subgraphs.points.tiers.service import TierChanges, TierDraft
from subgraphs.points.user_errors import PointsUserError

LocaleArgument = strawberry.argument(
    description="en, es, fr, ar or he; names missing in that locale fall back to English."
)


@strawberry.type(description="A name in one language.")
class LocalizedName:
    locale: str = strawberry.field(description="en, es, fr, ar or he.")
    value: str = strawberry.field(description="The name in that language.")


def _localized_names(names: dict[str, str]) -> list[LocalizedName]:
    return [LocalizedName(locale=locale, value=value) for locale, value in names.items()]


@strawberry.type(description="What a customer must reach to be in the tier; all set thresholds.")
class VipTierRules:
    min_points_earned: int | None = strawberry.field(
        description="Lifetime points earned (less reversed ones), at least; at most "
        "1,000,000,000 (MAX_POINTS_THRESHOLD), so it fits an Int."
    )
    min_rfm_score: Decimal | None = strawberry.field(description="RFM score, at least.")
    spent: strawberry.Private[Decimal | None]

    @classmethod
    def from_rules(cls, rules: TierRules) -> VipTierRules:
        return cls(
            min_points_earned=rules.min_points_earned,
            min_rfm_score=rules.min_rfm_score,
            spent=rules.min_total_spent,
        )

    @strawberry.field(description="Lifetime spend, at least, in the shop currency.")
    async def min_total_spent(self, info: PointsInfo) -> Money | None:
        return None if self.spent is None else await shop_money(info, self.spent)


@strawberry.type(description="What members of the tier get.")
class VipTierBenefits:
    discount_percent: Decimal | None = strawberry.field(
        description="Percent off their orders, if any."
    )
    free_shipping: bool = strawberry.field(description="Whether their shipping is free.")


@strawberry.federation.type(
    keys=["id"], description="A VIP tier: customers who meet its rules belong to it."
)
class VipTier:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    names: list[LocalizedName] = strawberry.field(description="The name in every locale set.")
    rank: int = strawberry.field(
        description="Order of the tiers: a customer meeting several belongs to the highest."
    )
    rules: VipTierRules = strawberry.field(description="Who belongs to the tier.")
    benefits: VipTierBenefits = strawberry.field(description="What members get.")
    updated_at: datetime = strawberry.field(description="When the tier was last changed.")
    version: int = version_field("tier")
    name_by_locale: strawberry.Private[dict[str, str]]

    @classmethod
    def from_row(cls, row: VipTierRow) -> VipTier:
        benefits = TierBenefits.from_json(row.benefits)
        return cls(
            id=global_id("VipTier", row.id),
            names=_localized_names(row.name),
            rank=row.rank,
            rules=VipTierRules.from_rules(TierRules.from_json(row.rules)),
            benefits=VipTierBenefits(
                discount_percent=benefits.discount_percent, free_shipping=benefits.free_shipping
            ),
            updated_at=row.updated_at,
            version=row.version,
            name_by_locale=row.name,
        )

    @classmethod
    async def resolve_reference(cls, info: PointsInfo, id: strawberry.ID) -> VipTier | None:
        """A refetch by global ID: readable as ``vipTiers`` is (the storefront too)."""
        require_catalog_read(info.context.viewer)
        row = await info.context.loaders.vip_tier_by_id.load(local_id(id, "VipTier"))
        return None if row is None else cls.from_row(row)

    @strawberry.field(description="The name in one locale (English if it has none there).")
    def name(self, locale: Annotated[str, LocaleArgument] = "en") -> str:
        return localized_name(self.name_by_locale, locale)


@strawberry.input(description="A name in one language.")
class LocalizedNameInput:
    locale: str = strawberry.field(description="en, es, fr, ar or he.")
    value: str = strawberry.field(description="The name, 1 to 60 characters.")


def _name_pairs(names: list[LocalizedNameInput]) -> list[tuple[str, str]]:
    return [(name.locale, name.value) for name in names]


@strawberry.input(description="Thresholds a customer must all reach; omit a threshold to skip it.")
class VipTierRulesInput:
    min_points_earned: int | None = strawberry.field(
        default=None,
        description="Lifetime points earned, at least: 0 to 1,000,000,000.",
    )
    min_total_spent: Decimal | None = strawberry.field(
        default=None, description="Lifetime spend in the shop currency, at least."
    )
    min_rfm_score: Decimal | None = strawberry.field(
        default=None, description="RFM score, at least."
    )

    def to_rules(self) -> TierRules:
        return TierRules(
            min_points_earned=self.min_points_earned,
            min_total_spent=self.min_total_spent,
            min_rfm_score=self.min_rfm_score,
        )


@strawberry.input(description="What members of the tier get.")
class VipTierBenefitsInput:
    discount_percent: Decimal | None = strawberry.field(
        default=None, description="Percent off their orders, above 0 and at most 100."
    )
    free_shipping: bool = strawberry.field(default=False, description="Free shipping.")

    def to_benefits(self) -> TierBenefits:
        return TierBenefits(
            discount_percent=self.discount_percent, free_shipping=self.free_shipping
        )


@strawberry.input(description="A new VIP tier.")
class VipTierCreateInput:
    names: list[LocalizedNameInput] = strawberry.field(
        description="The name per locale; English is required."
    )
    rank: int = strawberry.field(description="Unique among the tiers; higher ranks win.")
    rules: VipTierRulesInput = strawberry.field(description="Who belongs to the tier.")
    idempotency_key: str = create_key_field("tier", MAX_CREATE_KEY_LENGTH)
    benefits: VipTierBenefitsInput | None = strawberry.field(
        default=None, description="What members get; none by default."
    )

    def to_draft(self) -> TierDraft:
        return TierDraft(
            names=_name_pairs(self.names),
            rank=self.rank,
            rules=self.rules.to_rules(),
            benefits=self.benefits.to_benefits() if self.benefits else TierBenefits(),
        )


@strawberry.input(description="Changes to a tier: omitted fields keep their value.")
class VipTierUpdateInput:
    id: strawberry.ID = strawberry.field(description="The tier to change.")
    expected_version: int | None = expected_version_field("tier")
    names: list[LocalizedNameInput] | None = strawberry.field(
        default=None, description="Replaces all the names; English is required."
    )
    rank: int | None = strawberry.field(default=None, description="The new rank.")
    rules: VipTierRulesInput | None = strawberry.field(
        default=None, description="Replaces all the rules."
    )
    benefits: VipTierBenefitsInput | None = strawberry.field(
        default=None, description="Replaces all the benefits."
    )

    def to_changes(self) -> TierChanges:
        return TierChanges(
            names=None if self.names is None else _name_pairs(self.names),
            rank=self.rank,
            rules=self.rules.to_rules() if self.rules else None,
            benefits=self.benefits.to_benefits() if self.benefits else None,
        )


@strawberry.input(description="The tier to delete.")
class VipTierDeleteInput:
    id: strawberry.ID = strawberry.field(description="The tier to delete.")


@strawberry.type(description="The result of vipTierCreate.")
class VipTierCreatePayload:
    vip_tier: VipTier | None = strawberry.field(
        default=None, description="The new tier (the original one when the key was already used)."
    )
    reassigned_customers: UnsignedInt64 = strawberry.field(
        default=UnsignedInt64(0),
        description="Customers whose tier changed as a result (0 when the key was already used).",
    )
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.type(description="The result of vipTierUpdate.")
class VipTierUpdatePayload:
    vip_tier: VipTier | None = strawberry.field(default=None, description="The tier as changed.")
    reassigned_customers: UnsignedInt64 = strawberry.field(
        default=UnsignedInt64(0), description="Customers whose tier changed as a result."
    )
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.type(description="The result of vipTierDelete.")
class VipTierDeletePayload:
    deleted_vip_tier_id: strawberry.ID | None = strawberry.field(
        default=None, description="The deleted tier's id."
    )
    reassigned_customers: UnsignedInt64 = strawberry.field(
        default=UnsignedInt64(0), description="Customers whose tier changed as a result."
    )
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.input(description="A tier as it might be: rules, names and rank.")
class VipTierDraftInput:
    names: list[LocalizedNameInput] = strawberry.field(
        description="The name per locale; English is required."
    )
    rank: int = strawberry.field(description="Unique among the draft tiers; higher ranks win.")
    rules: VipTierRulesInput = strawberry.field(description="Who would belong to the tier.")

    def to_draft(self) -> TierDraft:
        return TierDraft(names=_name_pairs(self.names), rank=self.rank, rules=self.rules.to_rules())


@strawberry.input(description="What to simulate. Nothing is saved.")
class VipTierPreviewInput:
    tiers: list[VipTierDraftInput] | None = strawberry.field(
        default=None, description="Draft tiers replacing all current ones; omit for the current."
    )
    customer_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Simulate these customers only "
        f"(at most {preview.MAX_PREVIEW_CUSTOMER_IDS}); omit for every customer.",
    )
    sample_size: int = strawberry.field(
        default=preview.DEFAULT_SAMPLE_SIZE,
        description="How many customers to list with their tier, "
        f"at most {preview.MAX_SAMPLE_SIZE}.",
    )

    def to_drafts(self) -> list[TierDraft] | None:
        return None if self.tiers is None else [tier.to_draft() for tier in self.tiers]

    def to_customer_ids(self) -> list[str] | None:
        return None if self.customer_ids is None else local_ids(self.customer_ids, "Customer")


@strawberry.type(description="How many customers a tier would hold.")
class VipTierPreviewCount:
    tier_id: strawberry.ID | None = strawberry.field(description="The tier; null for a draft.")
    rank: int = strawberry.field(description="The tier's rank.")
    customers: UnsignedInt64 = strawberry.field(description="Customers it would hold.")
    names: strawberry.Private[dict[str, str]]

    @strawberry.field(description="The tier's name in a locale (English if it has none there).")
    def tier_name(self, locale: Annotated[str, LocaleArgument] = "en") -> str:
        return localized_name(self.names, locale)


@strawberry.type(description="The tier one customer would be in.")
class VipTierPreviewAssignment:
    customer_id: strawberry.ID = strawberry.field(description="The customer.")
    tier_id: strawberry.ID | None = strawberry.field(
        description="The tier; null for a draft tier or no tier."
    )
    names: strawberry.Private[dict[str, str] | None]

    @strawberry.field(description="The tier's name; null when they would be in no tier.")
    def tier_name(self, locale: Annotated[str, LocaleArgument] = "en") -> str | None:
        return None if self.names is None else localized_name(self.names, locale)


@strawberry.type(description="What the tiers would do to the customers; nothing was saved.")
class VipTierPreviewPayload:
    distribution: list[VipTierPreviewCount] = strawberry.field(
        default_factory=list, description="Customers per tier, lowest rank first (bar chart data)."
    )
    no_tier_count: UnsignedInt64 = strawberry.field(
        default=UnsignedInt64(0), description="Customers in no tier."
    )
    customer_count: UnsignedInt64 = strawberry.field(
        default=UnsignedInt64(0), description="Customers simulated."
    )
    sample: list[VipTierPreviewAssignment] = strawberry.field(
        default_factory=list, description="Some of those customers with their tier."
    )
    user_errors: list[PointsUserError] = user_errors_field("Why nothing was simulated.")

    @classmethod
    def from_preview(cls, preview: preview.TierPreview) -> VipTierPreviewPayload:
        return cls(
            distribution=[
                VipTierPreviewCount(
                    tier_id=None if tier.tier_id is None else global_id("VipTier", tier.tier_id),
                    rank=tier.rank,
                    customers=UnsignedInt64(tier.customers),
                    names=tier.names,
                )
                for tier in preview.tiers
            ],
            no_tier_count=UnsignedInt64(preview.no_tier_count),
            customer_count=UnsignedInt64(preview.customers),
            sample=[
                VipTierPreviewAssignment(
                    customer_id=global_id("Customer", assignment.customer_id),
                    tier_id=None
                    if assignment.tier_id is None
                    else global_id("VipTier", assignment.tier_id),
                    names=assignment.names,
                )
                for assignment in preview.sample
            ],
            user_errors=[],
        )
