"""What a VIP tier may be: the checks of a tier's names, rank, rules and benefits, shared by
editing (``tiers.service``) and previews of draft tiers (``tiers.preview``); each failure is an
``INVALID_TIER`` userError at the field it is about."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from subgraphs.points.errors import PointsError, PointsErrorCode, is_short_text
from subgraphs.points.tiers.rules import FALLBACK_LOCALE, TierBenefits, TierRules

LOCALES = ("en", "es", "fr", "ar", "he")
MAX_TIERS = 20
MAX_RANK = 10_000
MAX_NAME_LENGTH = 60
MAX_POINTS_THRESHOLD = 1_000_000_000
MAX_AMOUNT = Decimal(10) ** 12
CENT = Decimal("0.01")


def invalid_tier(field_path: str, message: str) -> PointsError:
    return PointsError(PointsErrorCode.INVALID_TIER, field_path, message)


def validated_names(names: Sequence[tuple[str, str]], field_path: str) -> dict[str, str]:
    normalized: dict[str, str] = {}
    for raw_locale, raw_name in names:
        locale = raw_locale.strip().lower()
        if locale not in LOCALES:
            raise invalid_tier(
                field_path, f"locale {raw_locale!r} is not one of {', '.join(LOCALES)}"
            )
        if locale in normalized:
            raise invalid_tier(field_path, f"locale {locale} is given twice")
        name = raw_name.strip()
        if not is_short_text(name, MAX_NAME_LENGTH):
            raise invalid_tier(
                field_path, f"{locale} name must be 1 to {MAX_NAME_LENGTH} characters"
            )
        normalized[locale] = name
    if FALLBACK_LOCALE not in normalized:
        raise invalid_tier(
            field_path, "an English (en) name is required: other locales fall back to it"
        )
    return normalized


def validated_rank(rank: int, field_path: str) -> int:
    if not 0 <= rank <= MAX_RANK:
        raise invalid_tier(field_path, f"rank must be between 0 and {MAX_RANK}")
    return rank


def _threshold(value: Decimal | None, field_path: str, *, cents: bool) -> Decimal | None:
    if value is None:
        return None
    if not value.is_finite() or not 0 <= value <= MAX_AMOUNT:
        raise invalid_tier(field_path, f"must be a number from 0 to {MAX_AMOUNT}")
    if cents:
        if value != value.quantize(CENT):
            raise invalid_tier(field_path, "an amount has at most 2 decimals")
        return value.quantize(CENT)
    return value


def validated_rules(rules: TierRules, prefix: str) -> TierRules:
    points = rules.min_points_earned
    if points is not None and not 0 <= points <= MAX_POINTS_THRESHOLD:
        raise invalid_tier(
            f"{prefix}minPointsEarned", f"must be between 0 and {MAX_POINTS_THRESHOLD}"
        )
    return replace(
        rules,
        min_total_spent=_threshold(rules.min_total_spent, f"{prefix}minTotalSpent", cents=True),
        min_rfm_score=_threshold(rules.min_rfm_score, f"{prefix}minRfmScore", cents=False),
    )


def validated_benefits(benefits: TierBenefits, prefix: str) -> TierBenefits:
    percent = benefits.discount_percent
    if percent is not None and (
        not percent.is_finite() or not 0 < percent <= 100 or percent != percent.quantize(CENT)
    ):
        raise invalid_tier(
            f"{prefix}discountPercent", "must be above 0 and at most 100, with 2 decimals at most"
        )
    return benefits
