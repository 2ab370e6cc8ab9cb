"""GraphQL types of the referral program's settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import strawberry

from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.fields import expected_version_field, from_attributes, version_field
from subgraphs.kit.graphql.user_errors import user_errors_field
from subgraphs.referrals.program import service
from subgraphs.referrals.program.service import RTL_LOCALES, ReferralProgramConfig
from subgraphs.referrals.types import ReferralUserError

ReferralRewardKind = domain_enum(
    service.RewardKind,
    name="ReferralRewardKind",
    description="What one side of a referral gets.",
    values={
        "POINTS": "Loyalty points, credited to the customer's balance.",
        "PERCENTAGE": "A single-use Shopify discount code for the customer, percent off.",
        "FIXED_AMOUNT": "A single-use Shopify discount code for the customer, an amount off "
        "in the shop currency.",
        "FREE_SHIPPING": "A single-use Shopify discount code for the customer: free shipping.",
    },
)
ShareChannel = domain_enum(
    service.ShareChannel,
    name="ReferralShareChannel",
    description="A way customers share their referral link.",
    values={"EMAIL": "By email.", "SMS": "By text message.", "WHATSAPP": "By WhatsApp."},
)


@strawberry.type(name="ReferralRewardTerms", description="What one side of a referral gets.")
class RewardTerms:
    kind: ReferralRewardKind = strawberry.field(description="Points or a discount.")  # type: ignore[valid-type]
    points: int | None = strawberry.field(description="Points given (POINTS).")
    value: Decimal | None = strawberry.field(
        description="Percent (PERCENTAGE) or amount in the shop currency (FIXED_AMOUNT)."
    )

    @classmethod
    def of(cls, spec: service.RewardSpec) -> RewardTerms:
        return cls(kind=spec.kind, points=spec.points, value=spec.value)


@strawberry.type(description="From an advocate's N-th completed referral on, each pays more.")
class ReferralTier:
    from_count: int = strawberry.field(description="The advocate's N-th completed referral.")
    points: int = strawberry.field(description="Points each such referral pays the advocate.")


@strawberry.type(description="The referral page's incentive text in one locale.")
class ReferralText:
    locale: str = strawberry.field(description="en, es, fr, ar or he.")
    text: str = strawberry.field(description="The text.")
    right_to_left: bool = strawberry.field(description="Shown right to left (ar, he).")


@strawberry.type(description="The merchant's referral program.")
class ReferralProgram:
    enabled: bool = strawberry.field(description="Whether new referrals are taken.")
    advocate_reward: RewardTerms = strawberry.field(
        description="What the advocate gets for a completed referral (before tiers)."
    )
    friend_reward: RewardTerms = strawberry.field(
        description="What the friend gets when their first qualifying order completes it."
    )
    min_order_amount: Decimal = strawberry.field(
        description="The friend's first order must reach this subtotal, in the shop currency."
    )
    hold_hours: int = strawberry.field(
        description="How long the advocate's reward waits after the qualifying order (the "
        "refund window): a cancellation or refund meanwhile cancels it."
    )
    tiers: list[ReferralTier] = strawberry.field(description="Rewards from the N-th referral.")
    channels: list[ShareChannel] = strawberry.field(  # type: ignore[valid-type]
        description="The ways customers may share their link."
    )
    fraud_threshold: Decimal = strawberry.field(
        description="A referral scoring at or above this (0 to 1) waits for review."
    )
    texts: list[ReferralText] = strawberry.field(description="The incentive text per locale.")
    link_expiry_days: int | None = strawberry.field(
        description="Days a link stays usable; null: it never expires."
    )
    version: int = version_field("referral program")
    alerts_configured: bool = strawberry.field(
        description="Whether held referrals are announced to the merchant's Slack (the URL "
        "itself is never shown)."
    )
    config: strawberry.Private[ReferralProgramConfig]

    @classmethod
    def of(
        cls, config: ReferralProgramConfig, version: int, *, alerts_configured: bool
    ) -> ReferralProgram:
        return from_attributes(
            cls,
            config,
            advocate_reward=RewardTerms.of(config.advocate_reward),
            friend_reward=RewardTerms.of(config.friend_reward),
            tiers=[ReferralTier(from_count=t.from_count, points=t.points) for t in config.tiers],
            channels=list(config.channels),
            texts=[
                ReferralText(locale=locale, text=text, right_to_left=locale in RTL_LOCALES)
                for locale, text in sorted(config.texts.items())
            ],
            version=version,
            alerts_configured=alerts_configured,
            config=config,
        )

    @strawberry.field(description="The incentive text in a locale (English if it has none).")
    def text(
        self,
        locale: Annotated[str, strawberry.argument(description="en, es, fr, ar or he.")] = "en",
    ) -> str:
        return self.config.text(locale)


@strawberry.input(description="What one side of a referral gets.")
class RewardTermsInput:
    kind: ReferralRewardKind = strawberry.field(description="Points or a discount code.")  # type: ignore[valid-type]
    points: int | None = strawberry.field(default=None, description="Points (POINTS).")
    value: Decimal | None = strawberry.field(default=None, description="Percent or amount.")

    def to_json(self) -> dict[str, Any]:
        kind = service.RewardKind(self.kind)
        return {"kind": kind.value, "points": self.points, "value": self.value}


@strawberry.input(description="A tier: from the advocate's N-th referral on, each pays more.")
class ReferralTierInput:
    from_count: int = strawberry.field(description="N, from 1.")
    points: int = strawberry.field(description="Points each such referral pays.")


@strawberry.input(description="The incentive text in one locale.")
class ReferralTextInput:
    locale: str = strawberry.field(description="en, es, fr, ar or he.")
    text: str = strawberry.field(description="At most 500 characters.")


@strawberry.input(description="Changes to the referral program; omitted fields keep their value.")
class ReferralProgramUpdateInput:
    expected_version: int | None = expected_version_field("referral program")
    enabled: bool | None = strawberry.field(default=None, description="Take new referrals.")
    advocate_reward: RewardTermsInput | None = strawberry.field(
        default=None, description="The advocate's reward."
    )
    friend_reward: RewardTermsInput | None = strawberry.field(
        default=None, description="The friend's reward."
    )
    min_order_amount: Decimal | None = strawberry.field(
        default=None, description="The qualifying order's minimum subtotal (shop currency)."
    )
    hold_hours: int | None = strawberry.field(
        default=None, description="The advocate's hold, 0 to 2160 hours."
    )
    tiers: list[ReferralTierInput] | None = strawberry.field(
        default=None, description="Replaces all the tiers."
    )
    channels: list[ShareChannel] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Replaces the share channels."
    )
    fraud_threshold: Decimal | None = strawberry.field(
        default=None, description="0 to 1; at or above it a referral waits for review."
    )
    texts: list[ReferralTextInput] | None = strawberry.field(
        default=None, description="Replaces all the texts; English is required."
    )
    link_expiry_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="Days a link stays usable; null: forever."
    )
    alert_slack_webhook_url: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="A Slack incoming webhook (https://hooks.slack.com/services/...) that "
        "hears when a referral is held for review, at most once an hour; null stops it. "
        "Stored encrypted, never shown again.",
    )

    def to_changes(self) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for name in ("enabled", "min_order_amount", "hold_hours", "fraud_threshold"):
            if getattr(self, name) is not None:
                changes[name] = getattr(self, name)
        if self.advocate_reward is not None:
            changes["advocate_reward"] = self.advocate_reward.to_json()
        if self.friend_reward is not None:
            changes["friend_reward"] = self.friend_reward.to_json()
        if self.tiers is not None:
            changes["tiers"] = [
                {"from_count": t.from_count, "points": t.points} for t in self.tiers
            ]
        if self.channels is not None:
            changes["channels"] = [service.ShareChannel(c).value for c in self.channels]
        if self.texts is not None:
            changes["texts"] = {text.locale: text.text for text in self.texts}
        if self.link_expiry_days is not strawberry.UNSET:
            changes["link_expiry_days"] = self.link_expiry_days
        return changes


@strawberry.type(description="The result of referralProgramUpdate.")
class ReferralProgramUpdatePayload:
    referral_program: ReferralProgram | None = strawberry.field(
        default=None, description="The program as saved; null when nothing was changed."
    )
    user_errors: list[ReferralUserError] = user_errors_field()
