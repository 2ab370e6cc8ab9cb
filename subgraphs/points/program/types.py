"""Program settings as GraphQL: what the merchant dashboard reads and edits, and the shop's
Shopify Admin API budget."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from subgraphs.kit.graphql.codes import CurrencyCode, currency
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.fields import from_attributes
from subgraphs.kit.graphql.user_errors import user_errors_field
from subgraphs.kit.integrations.shopify_admin import ThrottleStatus
from subgraphs.points.money import Money
from subgraphs.points.program import service as program
from subgraphs.points.user_errors import PointsUserError

Rounding = domain_enum(
    program.Rounding,
    name="Rounding",
    description="How fractional points round.",
    values={
        "DOWN": "Drop the fraction: 12.9 points are 12.",
        "NEAREST": "To the nearest whole point, halves up: 12.5 points are 13.",
        "UP": "Any fraction counts as a point: 12.1 points are 13.",
    },
)
SalesChannel = domain_enum(
    program.Channel,
    name="SalesChannel",
    description="Where an order was placed.",
    values={
        "ONLINE": "The online store (and other online channels).",
        "POS": "Shopify POS, in a physical store.",
    },
)
ExpiryKind = domain_enum(
    program.ExpiryKind,
    name="ExpiryKind",
    description="When points expire.",
    values={
        "NONE": "Points never expire.",
        "AFTER_EARNING": "Each credit expires `days` after it was earned; spending uses the "
        "soonest-expiring points first.",
        "INACTIVITY": "The whole balance expires after `days` without any earning or spending.",
    },
)
AwardOn = domain_enum(
    program.AwardOn,
    name="AwardOn",
    description="Which order event awards purchase points.",
    values={
        "ORDER_CREATED": "When the order is placed (orders/create); the paid event is then "
        "ignored.",
        "ORDER_PAID": "When the order is paid (orders/paid); the created event is then ignored.",
    },
)
NotificationProvider = domain_enum(
    program.NotificationProvider,
    name="NotificationProvider",
    description="Who sends expiry reminders.",
    values={
        "NONE": "No reminders are sent.",
        "KLAVIYO": "Klaviyo sends them, from the events LoyalNest posts.",
        "POSTSCRIPT": "Postscript sends them, by SMS.",
    },
)


@strawberry.type(description="Spend at least the threshold in one order, earn bonus points.")
class GoalSpend:
    threshold: Money = strawberry.field(description="Order subtotal, in the shop currency.")
    points: int = strawberry.field(description="Bonus points, not multiplied.")


@strawberry.type(description="Points per action.")
class EarningRules:
    purchase_points_per_unit: Decimal = strawberry.field(
        description="Points per unit of the shop currency spent."
    )
    signup: int = strawberry.field(description="Points for creating an account.")
    newsletter: int = strawberry.field(description="Points for a newsletter signup.")
    review: int = strawberry.field(description="Points for a product review.")
    birthday: int = strawberry.field(description="Points on the customer's birthday.")
    social_follow: int = strawberry.field(description="Points for a social follow.")
    goal_spend: GoalSpend | None = strawberry.field(description="Spend goal bonus, if any.")


@strawberry.type(description="A multiplier for an RFM segment.")
class SegmentMultiplier:
    segment: str = strawberry.field(description="RFM segment name, e.g. Champions.")
    multiplier: Decimal = strawberry.field(description="Earning multiplier, 1 to 10.")


@strawberry.type(description="Multiplier for a first order placed soon after signing up.")
class FirstPurchaseMultiplier:
    multiplier: Decimal = strawberry.field(description="Earning multiplier.")
    within_hours: int = strawberry.field(description="Window after signup, in hours.")


@strawberry.type(description="When points expire.")
class ExpiryPolicy:
    kind: ExpiryKind = strawberry.field(description="The policy.")  # type: ignore[valid-type]
    days: int | None = strawberry.field(description="N days, for the policies that take one.")


@strawberry.type(description="A presentment currency and its rate.")
class CurrencyRate:
    currency_code: CurrencyCode = strawberry.field(description="ISO 4217 code.")
    rate: Decimal = strawberry.field(description="Units of this currency per shop-currency unit.")


@strawberry.type(description="A merchant's points program.")
class ProgramSettings:
    version: int = strawberry.field(description="Pass as expectedVersion when updating.")
    points_name: str = strawberry.field(description="What points are called, e.g. Stars.")
    earning: EarningRules = strawberry.field(description="Points per action.")
    rounding: Rounding = strawberry.field(description="Rounding of order lines.")  # type: ignore[valid-type]
    rfm_multipliers: list[SegmentMultiplier] = strawberry.field(
        description="Multipliers by RFM segment."
    )
    first_purchase: FirstPurchaseMultiplier | None = strawberry.field(
        description="Dynamic multiplier for quick first orders, if enabled."
    )
    max_multiplier: Decimal = strawberry.field(description="Cap on stacked multipliers.")
    channels: list[SalesChannel] = strawberry.field(description="Channels whose orders earn.")  # type: ignore[valid-type]
    award_on: AwardOn = strawberry.field(description="Order event that awards points.")  # type: ignore[valid-type]
    expiry: ExpiryPolicy = strawberry.field(description="Expiry policy.")
    shop_currency: CurrencyCode = strawberry.field(description="The shop currency of all rules.")
    currency_rates: list[CurrencyRate] = strawberry.field(
        description="Presentment currencies accepted, with their rates."
    )
    notifications: NotificationProvider = strawberry.field(  # type: ignore[valid-type]
        description="Provider of expiry reminders."
    )

    @classmethod
    def from_config(cls, config: program.ProgramConfig, version: int) -> ProgramSettings:
        earning = config.earning
        return cls(
            version=version,
            points_name=config.points_name,
            earning=EarningRules(
                purchase_points_per_unit=earning.purchase_points_per_unit,
                signup=earning.signup,
                newsletter=earning.newsletter,
                review=earning.review,
                birthday=earning.birthday,
                social_follow=earning.social_follow,
                goal_spend=None
                if earning.goal_spend is None
                else GoalSpend(
                    threshold=Money(
                        amount=earning.goal_spend.threshold,
                        currency_code=currency(config.currencies.base),
                    ),
                    points=earning.goal_spend.points,
                ),
            ),
            rounding=config.rounding,
            rfm_multipliers=[
                SegmentMultiplier(segment=segment, multiplier=multiplier)
                for segment, multiplier in sorted(config.rfm_multipliers.items())
            ],
            first_purchase=None
            if config.first_purchase is None
            else FirstPurchaseMultiplier(
                multiplier=config.first_purchase.multiplier,
                within_hours=config.first_purchase.within_hours,
            ),
            max_multiplier=config.max_multiplier,
            channels=sorted(config.channels),
            award_on=config.award_on,
            expiry=ExpiryPolicy(kind=config.expiry.kind, days=config.expiry.days),
            shop_currency=currency(config.currencies.base),
            currency_rates=[
                CurrencyRate(currency_code=currency(code), rate=rate)
                for code, rate in sorted(config.currencies.rates.items())
            ],
            notifications=config.notifications,
        )


@strawberry.input(description="Spend goal bonus.")
class GoalSpendInput:
    threshold: Decimal = strawberry.field(description="Order subtotal in the shop currency.")
    points: int = strawberry.field(description="Bonus points.")


@strawberry.input(description="Points per action; omitted fields keep their value.")
class EarningRulesInput:
    purchase_points_per_unit: Decimal | None = strawberry.field(
        default=None, description="Points per unit of the shop currency."
    )
    signup: int | None = strawberry.field(default=None, description="Signup points.")
    newsletter: int | None = strawberry.field(default=None, description="Newsletter points.")
    review: int | None = strawberry.field(default=None, description="Review points.")
    birthday: int | None = strawberry.field(default=None, description="Birthday points.")
    social_follow: int | None = strawberry.field(default=None, description="Social follow points.")
    goal_spend: GoalSpendInput | None = strawberry.field(
        default=strawberry.UNSET, description="Spend goal; null turns it off."
    )


@strawberry.input(description="A multiplier for an RFM segment.")
class SegmentMultiplierInput:
    segment: str = strawberry.field(description="RFM segment name.")
    multiplier: Decimal = strawberry.field(description="Multiplier, 1 to 10.")


@strawberry.input(description="First-purchase multiplier.")
class FirstPurchaseMultiplierInput:
    multiplier: Decimal = strawberry.field(description="Multiplier, 1 to 10.")
    within_hours: int = strawberry.field(description="Window after signup, in hours.")


@strawberry.input(description="Expiry policy.")
class ExpiryPolicyInput:
    kind: ExpiryKind = strawberry.field(description="The policy.")  # type: ignore[valid-type]
    days: int | None = strawberry.field(default=None, description="N days, when required.")


@strawberry.input(description="A presentment currency and its rate.")
class CurrencyRateInput:
    currency_code: CurrencyCode = strawberry.field(description="ISO 4217 code.")
    rate: Decimal = strawberry.field(description="Units per shop-currency unit.")


@strawberry.input(description="Changes to the program; omitted fields keep their value.")
class ProgramSettingsUpdateInput:
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse the update if the settings changed since this version."
    )
    points_name: str | None = strawberry.field(default=None, description="e.g. Stars.")
    earning: EarningRulesInput | None = strawberry.field(default=None, description="Rules.")
    rounding: Rounding | None = strawberry.field(default=None, description="Rounding.")  # type: ignore[valid-type]
    rfm_multipliers: list[SegmentMultiplierInput] | None = strawberry.field(
        default=None, description="Replaces all segment multipliers."
    )
    first_purchase: FirstPurchaseMultiplierInput | None = strawberry.field(
        default=strawberry.UNSET, description="null turns it off."
    )
    max_multiplier: Decimal | None = strawberry.field(default=None, description="Cap.")
    channels: list[SalesChannel] | None = strawberry.field(default=None, description="Channels.")  # type: ignore[valid-type]
    award_on: AwardOn | None = strawberry.field(default=None, description="Order event.")  # type: ignore[valid-type]
    expiry: ExpiryPolicyInput | None = strawberry.field(default=None, description="Expiry.")
    shop_currency: CurrencyCode | None = strawberry.field(
        default=None, description="Shop currency."
    )
    currency_rates: list[CurrencyRateInput] | None = strawberry.field(
        default=None, description="Replaces all presentment currencies."
    )
    notifications: NotificationProvider | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Expiry reminder provider."
    )

    def to_changes(self) -> dict[str, Any]:
        """The update as a partial config document, merged over the current one."""
        changes: dict[str, Any] = {}
        if self.points_name is not None:
            changes["points_name"] = self.points_name
        if self.earning is not None:
            earning: dict[str, Any] = {}
            for name in (
                "purchase_points_per_unit",
                "signup",
                "newsletter",
                "review",
                "birthday",
                "social_follow",
            ):
                value = getattr(self.earning, name)
                if value is not None:
                    earning[name] = str(value) if isinstance(value, Decimal) else value
            goal = self.earning.goal_spend
            if goal is not strawberry.UNSET:
                earning["goal_spend"] = (
                    None
                    if goal is None
                    else {"threshold": str(goal.threshold), "points": goal.points}
                )
            changes["earning"] = earning
        if self.rounding is not None:
            changes["rounding"] = self.rounding.value
        if self.rfm_multipliers is not None:
            changes["rfm_multipliers"] = {
                m.segment: str(m.multiplier) for m in self.rfm_multipliers
            }
        if self.first_purchase is not strawberry.UNSET:
            first = self.first_purchase
            changes["first_purchase"] = (
                None
                if first is None
                else {"multiplier": str(first.multiplier), "within_hours": first.within_hours}
            )
        if self.max_multiplier is not None:
            changes["max_multiplier"] = str(self.max_multiplier)
        if self.channels is not None:
            changes["channels"] = [program.Channel(channel).value for channel in self.channels]
        if self.award_on is not None:
            changes["award_on"] = self.award_on.value
        if self.expiry is not None:
            changes["expiry"] = {
                "kind": program.ExpiryKind(self.expiry.kind).value,
                "days": self.expiry.days,
            }
        if self.shop_currency is not None or self.currency_rates is not None:
            currencies: dict[str, Any] = {}
            if self.shop_currency is not None:
                currencies["base"] = self.shop_currency.value
            if self.currency_rates is not None:
                currencies["rates"] = {
                    r.currency_code.value: str(r.rate) for r in self.currency_rates
                }
            changes["currencies"] = currencies
        if self.notifications is not None:
            changes["notifications"] = self.notifications.value
        return changes


@strawberry.type(description="Result of programSettingsUpdate.")
class ProgramSettingsUpdatePayload:
    program_settings: ProgramSettings | None = strawberry.field(
        default=None, description="The settings now in force; null when nothing changed."
    )
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.type(
    description="Shopify's cost-based rate limit for this shop, from the latest Admin API call. "
    "An alert goes to the merchant (Slack) once per window when use reaches the threshold."
)
class RateLimitStatus:
    maximum_available: float = strawberry.field(description="Bucket size, in cost points.")
    currently_available: float = strawberry.field(description="Cost points left.")
    restore_rate: float = strawberry.field(description="Cost points restored per second.")
    used_percent: float = strawberry.field(description="Share of the bucket in use, 0-100.")
    alert_threshold_percent: float = strawberry.field(description="Use that triggers an alert.")
    near_limit: bool = strawberry.field(description="Use is at or above the alert threshold.")
    observed_at: datetime = strawberry.field(description="When Shopify reported these numbers.")

    @classmethod
    def from_status(cls, status: ThrottleStatus, alert_at: float) -> RateLimitStatus:
        return from_attributes(
            cls,
            status,
            used_percent=round(status.used_fraction * 100, 1),
            alert_threshold_percent=alert_at * 100,
            near_limit=status.used_fraction >= alert_at,
        )
