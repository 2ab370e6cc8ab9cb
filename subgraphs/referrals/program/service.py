"""A merchant's referral program: what each side earns, when, and how suspicious a referral
may look before its rewards wait for review. One validated document per merchant (as the
points program keeps its settings), versioned so a stale editor cannot overwrite a newer save.

Tier rewards ("50 points for the 1st, 100 from the 5th") replace the advocate's reward from
the advocate's N-th completed referral on."""

from __future__ import annotations

import enum
import re
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import REFERRAL_PROGRAMS_ALERT_WEBHOOK
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.integrations.message_rendering import closest_language
from subgraphs.kit.validation import error_location
from subgraphs.kit.versioned_documents import save_new_version
from subgraphs.kit.write_context import WriteContext
from subgraphs.referrals.program.repository import ReferralProgramRepository
from subgraphs.referrals.service import ReferralError, ReferralErrorCode

LOCALES = ("en", "es", "fr", "ar", "he")
# Slack's incoming webhooks: the one alert channel so far (held referrals).
SLACK_WEBHOOK = re.compile(r"^https://hooks\.slack\.com/services/[A-Za-z0-9_/-]{10,200}$")
RTL_LOCALES = frozenset({"ar", "he"})
MAX_TEXT_LENGTH = 500


class RewardKind(enum.StrEnum):
    POINTS = "points"
    PERCENTAGE = "percentage"  # a Shopify discount code, percent off
    FIXED_AMOUNT = "fixed_amount"  # a Shopify discount code, amount off in the shop currency
    FREE_SHIPPING = "free_shipping"


class ShareChannel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RewardSpec(_Strict):
    kind: RewardKind = RewardKind.POINTS
    points: Annotated[int, Field(gt=0, le=1_000_000)] | None = None
    value: Annotated[Decimal, Field(gt=0, le=10_000, decimal_places=2)] | None = None

    @model_validator(mode="after")
    def _terms_match_kind(self) -> Self:
        if self.kind is RewardKind.POINTS and (self.points is None or self.value is not None):
            raise ValueError("a points reward gives `points` (and no `value`)")
        if self.kind in (RewardKind.PERCENTAGE, RewardKind.FIXED_AMOUNT) and (
            self.value is None or self.points is not None
        ):
            raise ValueError(f"a {self.kind.value} reward gives `value` (and no `points`)")
        if self.kind is RewardKind.PERCENTAGE and self.value is not None and self.value > 100:
            raise ValueError("a percentage is at most 100")
        if self.kind is RewardKind.FREE_SHIPPING and (
            self.points is not None or self.value is not None
        ):
            raise ValueError("free shipping takes neither `points` nor `value`")
        return self


class ReferralTier(_Strict):
    """From the advocate's ``from_count``-th completed referral on, each pays ``points``."""

    from_count: Annotated[int, Field(ge=1, le=10_000)]
    points: Annotated[int, Field(gt=0, le=1_000_000)]


class ReferralProgramConfig(_Strict):
    enabled: bool = True
    advocate_reward: RewardSpec = RewardSpec(points=500)
    friend_reward: RewardSpec = RewardSpec(points=250)
    # The friend's first order must reach this subtotal (shop currency) to complete.
    min_order_amount: Annotated[Decimal, Field(ge=0, le=100_000, decimal_places=2)] = Decimal(0)
    # The advocate's reward waits this long after the qualifying order (the refund window).
    hold_hours: Annotated[int, Field(ge=0, le=24 * 90)] = 24 * 14
    tiers: tuple[ReferralTier, ...] = ()
    channels: tuple[ShareChannel, ...] = tuple(ShareChannel)
    # A referral scoring at or above this is held for the merchant's review.
    fraud_threshold: Annotated[Decimal, Field(ge=0, le=1, decimal_places=2)] = Decimal("0.7")
    # The referral page's incentive text per locale (en, es, fr, ar, he).
    texts: dict[str, Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH)]] = Field(
        default_factory=lambda: {"en": "Give a friend a reward, get one when they order."}
    )
    # Days a link stays usable after it is made; None: it never expires.
    link_expiry_days: Annotated[int, Field(ge=1, le=3650)] | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        counts = [tier.from_count for tier in self.tiers]
        if len(set(counts)) != len(counts):
            raise ValueError("tiers: two tiers start at the same count")
        if self.tiers and self.advocate_reward.kind is not RewardKind.POINTS:
            raise ValueError("tiers: tier rewards are points, so the advocate's reward must be")
        unknown = set(self.texts) - set(LOCALES)
        if unknown:
            raise ValueError(f"texts: unsupported locale {', '.join(sorted(unknown))}")
        if "en" not in self.texts:
            raise ValueError("texts: English is required (the fallback of every locale)")
        return self

    def advocate_points(self, completed_count: int) -> int | None:
        """Points for the advocate's ``completed_count``-th completed referral (the highest
        tier reached, else the base reward); None when the advocate's reward is a discount."""
        reached = [tier for tier in self.tiers if tier.from_count <= completed_count]
        if reached:
            return max(reached, key=lambda tier: tier.from_count).points
        return self.advocate_reward.points

    def text(self, locale: str) -> str:
        return self.texts.get(locale, self.texts["en"])

    def text_for(self, locale: str) -> tuple[str, str]:
        """(the locale the text is in, the text) for a shopper's ``locale`` ("fr-CA", "iw"):
        their language if the program has a text in it, else English."""
        language = closest_locale(locale)
        return (
            (language, self.texts[language]) if language in self.texts else ("en", self.texts["en"])
        )


def closest_locale(locale: str) -> str:
    """The program's language closest to ``locale`` ("fr-CA" -> "fr", "iw" -> "he"), else en."""
    return closest_language(locale, LOCALES)


DEFAULT_PROGRAM = ReferralProgramConfig()


def parse_program(document: dict[str, Any] | None) -> ReferralProgramConfig:
    return DEFAULT_PROGRAM if document is None else ReferralProgramConfig.model_validate(document)


def validate_program(document: dict[str, Any]) -> ReferralProgramConfig:
    try:
        return ReferralProgramConfig.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        field = error_location(first, "input")
        raise ReferralError(
            ReferralErrorCode.INVALID_PROGRAM,
            field,
            str(first["msg"]).removeprefix("Value error, "),
        ) from None


async def referral_program(
    session: AsyncSession, merchant_id: str
) -> tuple[ReferralProgramConfig, int]:
    """The program and its version (0 before the merchant saved one: the defaults)."""
    document, version = await ReferralProgramRepository(session, merchant_id).document()
    return parse_program(document), version


async def update_referral_program(
    write: WriteContext, changes: dict[str, Any], *, expected_version: int | None = None
) -> tuple[ReferralProgramConfig, int]:
    """Merge ``changes`` (top-level fields replace the current ones) over the program and
    validate the result; only over ``expected_version`` when given."""

    def stale(version: int) -> ReferralError:
        return ReferralError(
            ReferralErrorCode.VERSION_CONFLICT,
            "expectedVersion",
            f"the program changed since version {expected_version} (it is at version "
            f"{version} now); reload it and apply the change again",
        )

    def merged(document: dict[str, Any] | None) -> ReferralProgramConfig:
        return validate_program({**parse_program(document).model_dump(mode="json"), **changes})

    return await save_new_version(
        write,
        ReferralProgramRepository(write.session, write.merchant_id),
        changes=changes,
        apply=merged,
        expected_version=expected_version,
        stale=stale,
        action=AuditAction.REFERRAL_PROGRAM_UPDATED,
    )


async def set_alert_webhook(write: WriteContext, url: str | None, cipher: FieldCipher) -> None:
    """Where held referrals are announced (a Slack incoming webhook), stored encrypted: the
    URL is a credential. None stops the alerts."""
    if url is not None and not SLACK_WEBHOOK.match(url):
        raise ReferralError(
            ReferralErrorCode.INVALID_PROGRAM,
            "alertSlackWebhookUrl",
            "a Slack incoming webhook URL (https://hooks.slack.com/services/...)",
        )
    encrypted = (
        None if url is None else cipher.encrypt(url, context=REFERRAL_PROGRAMS_ALERT_WEBHOOK)
    )
    await ReferralProgramRepository(write.session, write.merchant_id).save_alert_webhook(encrypted)
    await write.audit.record(
        AuditAction.REFERRAL_PROGRAM_UPDATED,
        {"changed": ["alert_webhook"], "alerts": url is not None},
    )


async def alert_webhook(session: AsyncSession, merchant_id: str, cipher: FieldCipher) -> str | None:
    encrypted = await ReferralProgramRepository(session, merchant_id).alert_webhook_encrypted()
    if encrypted is None:
        return None
    return cipher.decrypt(encrypted, context=REFERRAL_PROGRAMS_ALERT_WEBHOOK)


async def alerts_configured(session: AsyncSession, merchant_id: str) -> bool:
    return (
        await ReferralProgramRepository(session, merchant_id).alert_webhook_encrypted() is not None
    )
