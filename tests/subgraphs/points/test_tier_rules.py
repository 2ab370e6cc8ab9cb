"""VIP tier rules as a merchant sets them (issue 16, mutation survivors of tiers/rules.py):
each threshold is met by reaching it exactly, every threshold set must be met, the highest
tier a customer meets is theirs, and a tier's benefits read back as stored. Pure functions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from subgraphs.points.tiers.rules import (
    RankedTier,
    TierBenefits,
    TierFacts,
    TierRules,
    assign_tier,
    distribution,
    localized_name,
    qualifies,
)

GOLD = TierRules(min_points_earned=1000, min_total_spent=Decimal("500.00"))


def facts(points: int = 0, spent: str = "0", score: str | None = None) -> TierFacts:
    return TierFacts.of(points, Decimal(spent), None if score is None else {"score": score})


@pytest.mark.parametrize(
    ("points", "spent", "member"),
    [
        pytest.param(999, "500.00", False, id="a point short"),
        pytest.param(1000, "499.99", False, id="a cent short"),
        pytest.param(1000, "500.00", True, id="exactly both"),
        pytest.param(1001, "500.01", True, id="above both"),
    ],
)
def test_a_tier_is_reached_by_meeting_each_threshold_exactly(
    points: int, spent: str, member: bool
) -> None:
    """Kills `<` -> `<=` on points and on spend, and `return False` -> `return True`."""
    assert qualifies(GOLD, facts(points, spent)) is member


@pytest.mark.parametrize(
    ("score", "member"),
    [("3.99", False), ("4.00", True), ("4.5", True), (None, False)],
    ids=["just below", "exactly", "above", "no score yet"],
)
def test_an_rfm_threshold_is_met_at_its_score_and_never_without_one(
    score: str | None, member: bool
) -> None:
    assert qualifies(TierRules(min_rfm_score=Decimal("4.00")), facts(score=score)) is member


def test_a_tier_without_thresholds_takes_everyone() -> None:
    assert qualifies(TierRules(), facts())
    assert qualifies(TierRules.from_json({}), facts())


def test_the_highest_tier_met_is_the_customers() -> None:
    tiers = [
        RankedTier("bronze", 1, TierRules()),
        RankedTier("gold", 3, GOLD),
        RankedTier("silver", 2, TierRules(min_points_earned=500)),
    ]
    customers = [facts(100), facts(600), facts(5000, "800"), facts(5000, "10")]

    assert [assign_tier(tiers, c) for c in customers] == ["bronze", "silver", "gold", "silver"]
    assert assign_tier([RankedTier("gold", 3, GOLD)], facts(10)) is None
    assert distribution(tiers, customers) == {"bronze": 1, "silver": 2, "gold": 1, None: 0}


def test_rules_and_benefits_read_back_as_stored() -> None:
    """Kills TierFacts.of dropping the spend and the benefits' defaults changed."""
    stored = TierRules.from_json(GOLD.to_json())

    assert stored == GOLD
    assert facts(10, "12.50", "3").total_spent == Decimal("12.50")
    assert facts(10, "12.50", "3").rfm_score == Decimal(3)
    assert TierBenefits.from_json({}) == TierBenefits(discount_percent=None, free_shipping=False)
    assert TierBenefits.from_json({}).free_shipping is False
    assert TierBenefits.from_json({"discount_percent": "7.5", "free_shipping": True}) == (
        TierBenefits(Decimal("7.5"), True)
    )
    assert TierBenefits.from_json(TierBenefits(Decimal(5), True).to_json()) == TierBenefits(
        Decimal(5), True
    )


def test_a_tier_name_falls_back_to_english() -> None:
    names = {"en": "Gold", "fr": "Or"}

    assert (localized_name(names, "fr"), localized_name(names, "he")) == ("Or", "Gold")
