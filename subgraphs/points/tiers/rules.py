"""Which VIP tier a customer belongs to, and what a tier gives: pure rules, shared by the
ledger (recalculated on every change), the periodic job and the preview."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

FALLBACK_LOCALE = "en"


@dataclass(frozen=True, slots=True)
class TierRules:
    """Every threshold that is set must be met; a tier without thresholds takes everyone."""

    min_points_earned: int | None = None
    min_total_spent: Decimal | None = None
    min_rfm_score: Decimal | None = None

    @classmethod
    def from_json(cls, rules: dict[str, Any]) -> TierRules:
        def decimal(key: str) -> Decimal | None:
            return None if rules.get(key) is None else Decimal(str(rules[key]))

        points = rules.get("min_points_earned")
        return cls(
            min_points_earned=None if points is None else int(points),
            min_total_spent=decimal("min_total_spent"),
            min_rfm_score=decimal("min_rfm_score"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "min_points_earned": self.min_points_earned,
            "min_total_spent": None if self.min_total_spent is None else str(self.min_total_spent),
            "min_rfm_score": None if self.min_rfm_score is None else str(self.min_rfm_score),
        }


@dataclass(frozen=True, slots=True)
class TierFacts:
    points_earned: int
    total_spent: Decimal
    rfm_score: Decimal | None

    @classmethod
    def of(cls, points_earned: int, total_spent: Decimal, rfm: dict[str, Any] | None) -> TierFacts:
        """From a customer's columns (``rfm``: the RFM score document analytics writes)."""
        return cls(points_earned, total_spent, rfm_score_of(rfm))


@dataclass(frozen=True, slots=True)
class TierBenefits:
    """What a tier gives; read by checkout and redemption, not by the points calculation."""

    discount_percent: Decimal | None = None
    free_shipping: bool = False

    @classmethod
    def from_json(cls, benefits: dict[str, Any]) -> TierBenefits:
        percent = benefits.get("discount_percent")
        return cls(
            discount_percent=None if percent is None else Decimal(str(percent)),
            free_shipping=bool(benefits.get("free_shipping", False)),
        )

    def to_json(self) -> dict[str, Any]:
        percent = self.discount_percent
        return {
            "discount_percent": None if percent is None else str(percent),
            "free_shipping": self.free_shipping,
        }


@dataclass(frozen=True, slots=True)
class RankedTier:
    tier_id: str
    rank: int
    rules: TierRules


def rfm_score_of(rfm: dict[str, Any] | None) -> Decimal | None:
    if not rfm or rfm.get("score") is None:
        return None
    return Decimal(str(rfm["score"]))


def qualifies(rules: TierRules, facts: TierFacts) -> bool:
    if rules.min_points_earned is not None and facts.points_earned < rules.min_points_earned:
        return False
    if rules.min_total_spent is not None and facts.total_spent < rules.min_total_spent:
        return False
    return rules.min_rfm_score is None or (
        facts.rfm_score is not None and facts.rfm_score >= rules.min_rfm_score
    )


def assign_tier(tiers: Iterable[RankedTier], facts: TierFacts) -> str | None:
    """The highest-ranked tier whose rules the customer meets, or None."""
    for tier in sorted(tiers, key=lambda tier: tier.rank, reverse=True):
        if qualifies(tier.rules, facts):
            return tier.tier_id
    return None


def distribution(
    tiers: Sequence[RankedTier], customers: Iterable[TierFacts]
) -> dict[str | None, int]:
    """How many customers each tier would hold (None: no tier)."""
    counts: dict[str | None, int] = {tier.tier_id: 0 for tier in tiers}
    counts[None] = 0
    for facts in customers:
        counts[assign_tier(tiers, facts)] += 1
    return counts


def localized_name(names: dict[str, str], locale: str) -> str:
    """The name in ``locale``, or in English when the tier has none there."""
    return names.get(locale) or names[FALLBACK_LOCALE]
