"""The earning calculation at its boundaries (issue 16), as a merchant would state each rule:
a campaign applies from its first instant to just before its end; a goal is met by spending
exactly its threshold; a multiplier of 1 is not a bonus; the program's maximum multiplier caps
the product; a region-only campaign skips a customer whose country is unknown; a channel the
program does not reward earns nothing; a malformed order is refused with the reason. Pure
functions: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.program.calculation import (
    MAX_ORDER_LINES,
    Calculation,
    CampaignTerms,
    CustomerFacts,
    EarnAction,
    Order,
    OrderLine,
    calculate,
    validate_order,
)
from subgraphs.points.program.service import DEFAULT_CONFIG, Channel, ProgramConfig

START = datetime(2026, 11, 27, tzinfo=UTC)
END = START + timedelta(days=3)
# Signed up long ago, ordered before: no first-purchase multiplier in play.
REGULAR = CustomerFacts(created_at=START - timedelta(days=400), orders_count=3, country_code="US")
# 10 points per unit, rounding down: a $42.50 line earns 425.
CONFIG = DEFAULT_CONFIG.model_copy(update={"first_purchase": None})


def order(*amounts: str, channel: Channel = Channel.ONLINE, country: str | None = "US") -> Order:
    return Order(
        order_id="1001",
        currency="USD",
        lines=tuple(OrderLine(f"L{n}", 1, Decimal(a)) for n, a in enumerate(amounts)),
        channel=channel,
        placed_at=START,
        country_code=country,
    )


def double(multiplier: str = "2", **changes: object) -> CampaignTerms:
    terms = CampaignTerms(
        id="c1",
        name="Black Friday",
        kind="double_points",
        multiplier=Decimal(multiplier),
        goal_amount=None,
        bonus_points=None,
        starts_at=START,
        ends_at=END,
    )
    return terms if not changes else _replace(terms, **changes)


def _replace(terms: CampaignTerms, **changes: object) -> CampaignTerms:
    from dataclasses import replace

    return replace(terms, **changes)  # type: ignore[arg-type]


def earn(
    *campaigns: CampaignTerms,
    at: datetime = START,
    config: ProgramConfig = CONFIG,
    customer: CustomerFacts = REGULAR,
    placed: Order | None = None,
) -> Calculation:
    return calculate(
        config,
        campaigns,
        action=EarnAction.PURCHASE,
        customer=customer,
        order=placed or order("42.50"),
        at=at,
    )


def step(result: Calculation, rule: str) -> tuple[bool, str]:
    [found] = [s for s in result.trace if s.rule == rule]
    return found.applied, found.detail


@pytest.mark.parametrize(
    ("at", "points"),
    [
        pytest.param(START - timedelta(microseconds=1), 425, id="an instant before the start"),
        pytest.param(START, 850, id="at the start"),
        pytest.param(END - timedelta(microseconds=1), 850, id="the last instant"),
        pytest.param(END, 425, id="at the end (exclusive)"),
    ],
)
def test_a_campaign_applies_from_its_start_to_just_before_its_end(
    at: datetime, points: int
) -> None:
    result = earn(double(), at=at)

    assert result.points == points
    assert step(result, "campaign:Black Friday")[0] is (points == 850)


@pytest.mark.parametrize(
    ("spent", "bonus"),
    [("99.99", 0), ("100.00", 50), ("100.01", 50)],
    ids=["just below", "exactly at", "just above"],
)
def test_a_spend_goal_is_met_by_spending_exactly_its_threshold(spent: str, bonus: int) -> None:
    document = CONFIG.model_dump()
    document["earning"]["goal_spend"] = {"threshold": "100", "points": 50}
    config = ProgramConfig.model_validate(document)

    result = earn(config=config, placed=order(spent))

    assert result.bonus_points == bonus
    assert result.points == int(Decimal(spent) * 10) + bonus
    assert step(result, "goal_spend")[0] is (bonus > 0)


@pytest.mark.parametrize(
    ("spent", "bonus"),
    [("99.99", 0), ("100.00", 75), ("100.01", 75)],
    ids=["just below", "exactly at", "just above"],
)
def test_a_goal_spend_campaign_is_met_by_spending_exactly_its_amount(
    spent: str, bonus: int
) -> None:
    """The campaign's goal, like the program's, is met at exactly its amount."""
    campaign = CampaignTerms(
        id="c2",
        name="Spend 100",
        kind="goal_spend",
        multiplier=Decimal(1),
        goal_amount=Decimal("100.00"),
        bonus_points=75,
        starts_at=START,
        ends_at=END,
    )

    result = earn(campaign, placed=order(spent))

    assert result.bonus_points == bonus
    assert result.points == int(Decimal(spent) * 10) + bonus
    assert step(result, "campaign:Spend 100")[0] is (bonus > 0)


def test_an_rfm_multiplier_of_one_is_not_shown_as_applied() -> None:
    config = ProgramConfig.model_validate(
        {**CONFIG.model_dump(), "rfm_multipliers": {"Champions": "1", "Loyal": "1.5"}}
    )
    champion = CustomerFacts(REGULAR.created_at, 3, rfm_segment="Champions", country_code="US")
    loyal = CustomerFacts(REGULAR.created_at, 3, rfm_segment="Loyal", country_code="US")

    as_champion = earn(config=config, customer=champion)
    as_loyal = earn(config=config, customer=loyal)

    assert (as_champion.points, step(as_champion, "rfm_multiplier")[0]) == (425, False)
    assert (as_loyal.points, step(as_loyal, "rfm_multiplier")[0]) == (637, True)


def test_the_programs_maximum_multiplier_caps_the_product() -> None:
    config = ProgramConfig.model_validate(
        {**CONFIG.model_dump(), "rfm_multipliers": {"Champions": "3"}, "max_multiplier": "4"}
    )
    champion = CustomerFacts(REGULAR.created_at, 3, rfm_segment="Champions", country_code="US")

    capped = earn(double("2"), config=config, customer=champion)  # 3 x 2 = 6 > 4
    under = earn(double("1.25"), config=config, customer=champion)  # 3 x 1.25 = 3.75

    assert (capped.multiplier, capped.points) == (Decimal(4), 1700)
    assert step(capped, "max_multiplier")[0] is True
    assert under.multiplier == Decimal("3.75")
    assert not [s for s in under.trace if s.rule == "max_multiplier"]


def test_a_product_exactly_at_the_maximum_multiplier_is_not_shown_as_capped() -> None:
    config = ProgramConfig.model_validate(
        {**CONFIG.model_dump(), "rfm_multipliers": {"Champions": "2"}, "max_multiplier": "4"}
    )
    champion = CustomerFacts(REGULAR.created_at, 3, rfm_segment="Champions", country_code="US")

    at_max = earn(double("2"), config=config, customer=champion)  # 2 x 2 = 4, the maximum

    assert (at_max.multiplier, at_max.points) == (Decimal(4), 1700)
    assert not [s for s in at_max.trace if s.rule == "max_multiplier"]


def test_a_region_only_campaign_skips_a_customer_whose_country_is_unknown() -> None:
    for_canada = double(regions=frozenset({"CA"}))
    nowhere = CustomerFacts(REGULAR.created_at, 3, country_code=None)

    unknown = earn(for_canada, customer=nowhere, placed=order("42.50", country=None))
    canadian = earn(for_canada, placed=order("42.50", country="CA"))

    applied, detail = step(unknown, "campaign:Black Friday")
    assert (unknown.points, applied) == (425, False)
    assert "unknown region" in detail
    assert canadian.points == 850


def test_a_channel_the_program_does_not_reward_earns_nothing() -> None:
    online_only = ProgramConfig.model_validate({**CONFIG.model_dump(), "channels": ["online"]})

    in_store = earn(config=online_only, placed=order("42.50", "10.00", channel=Channel.POS))
    everywhere = earn(placed=order("42.50", channel=Channel.POS))

    assert in_store.points == 0
    assert [line.points for line in in_store.lines] == [0, 0]
    assert step(in_store, "channel") == (False, "pos orders do not earn in this program")
    assert everywhere.points == 425


def _lines(count: int) -> tuple[OrderLine, ...]:
    return tuple(OrderLine(f"L{n}", 1, Decimal(1)) for n in range(count))


@pytest.mark.parametrize(
    ("lines", "order_id", "message"),
    [
        pytest.param((), "1001", "1 to 500 lines", id="no lines"),
        pytest.param(_lines(MAX_ORDER_LINES + 1), "1001", "1 to 500 lines", id="too many"),
        pytest.param(
            (OrderLine("L", 1, Decimal(1)), OrderLine("L", 1, Decimal(2))),
            "1001",
            "appears twice",
            id="duplicate line ids",
        ),
        pytest.param((OrderLine("L", 0, Decimal(1)),), "1001", "quantity", id="zero quantity"),
        pytest.param((OrderLine("L", 1, Decimal(-1)),), "1001", "negative", id="negative"),
        pytest.param((OrderLine("L", 1, Decimal(1)),), "  ", "id is required", id="blank id"),
    ],
)
def test_a_malformed_order_is_refused_with_the_reason(
    lines: tuple[OrderLine, ...], order_id: str, message: str
) -> None:
    bad = Order(order_id, "USD", lines, Channel.ONLINE, START)

    with pytest.raises(PointsError) as refused:
        validate_order(bad)

    assert refused.value.code is PointsErrorCode.INVALID_ORDER
    assert message in refused.value.message


def test_the_largest_order_allowed_is_taken() -> None:
    validate_order(Order("1001", "USD", _lines(MAX_ORDER_LINES), Channel.ONLINE, START))
    validate_order(Order("1001", "USD", (OrderLine("L", 1, Decimal(0)),), Channel.ONLINE, START))
