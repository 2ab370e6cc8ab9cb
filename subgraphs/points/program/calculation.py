"""The one points calculation, long because every rule of an award is kept in this one place.

Every path that awards points (the API, webhooks, imports, previews) goes through
``calculate``, and the rules (channels, currencies, multipliers, campaigns, spend goals,
rounding) interact, so they are read together here rather than spread over modules. It is
pure — no I/O, no clock — so the same inputs always give the same points and the same decision
trace, which is stored with the ledger entry.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.program.service import Channel, ProgramConfig, Rounding

CENT = Decimal("0.01")
MAX_ORDER_LINES = 500
_ROUNDING_MODES = {
    Rounding.DOWN: ROUND_FLOOR,
    Rounding.NEAREST: ROUND_HALF_UP,
    Rounding.UP: ROUND_CEILING,
}
# ISO 3166-1 alpha-2, plus XK (Kosovo), which Shopify uses although ISO has not assigned it.
COUNTRY_CODES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK
    DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR
    GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM
    KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP
    MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL
    PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST
    SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG
    VI VN VU WF WS XK YE YT ZA ZM ZW""".split()  # noqa: SIM905
)
# Region names a campaign may target besides ISO country codes.
REGIONS: dict[str, frozenset[str]] = {
    "EU": frozenset(
        "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()  # noqa: SIM905
    ),
}


class EarnAction(enum.StrEnum):
    PURCHASE = "purchase"
    SIGNUP = "signup"
    NEWSLETTER = "newsletter"
    REVIEW = "review"
    BIRTHDAY = "birthday"
    SOCIAL_FOLLOW = "social_follow"


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_id: str
    quantity: int
    # What the shopper paid for the line after discounts, in the order's currency.
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    currency: str
    lines: tuple[OrderLine, ...]
    channel: Channel
    placed_at: datetime
    country_code: str | None = None

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    created_at: datetime
    orders_count: int
    rfm_segment: str | None = None
    country_code: str | None = None


@dataclass(frozen=True, slots=True)
class CampaignTerms:
    id: str
    name: str
    kind: str
    multiplier: Decimal
    goal_amount: Decimal | None
    bonus_points: int | None
    starts_at: datetime
    ends_at: datetime
    rfm_segments: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    active: bool = True


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One rule, campaign or multiplier the calculation considered, and what it decided."""

    rule: str
    applied: bool
    detail: str
    points: int | None = None
    multiplier: Decimal | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "applied": self.applied,
            "detail": self.detail,
            "points": self.points,
            "multiplier": None if self.multiplier is None else str(self.multiplier),
        }


@dataclass(frozen=True, slots=True)
class LinePoints:
    line_id: str
    quantity: int
    amount: Decimal
    # The line in shop currency, which is what the earning rate is defined in.
    base_amount: Decimal
    points: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.line_id,
            "quantity": self.quantity,
            "amount": str(self.amount),
            "base_amount": str(self.base_amount),
            "points": self.points,
        }


@dataclass(frozen=True, slots=True)
class Calculation:
    action: EarnAction
    points: int
    multiplier: Decimal
    currency: str
    base_amount: Decimal
    lines: tuple[LinePoints, ...] = ()
    # Goal-spend bonuses: not multiplied, taken back when refunds drop the order below the goal.
    bonus_points: int = 0
    goal_threshold: Decimal | None = None
    trace: tuple[TraceStep, ...] = field(default=())

    def to_explanation(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "points": self.points,
            "multiplier": str(self.multiplier),
            "currency": self.currency,
            "base_amount": str(self.base_amount),
            "lines": [line.to_json() for line in self.lines],
            "bonus_points": self.bonus_points,
            "goal_threshold": None if self.goal_threshold is None else str(self.goal_threshold),
            "trace": [step.to_json() for step in self.trace],
        }


def round_points(value: Decimal, rounding: Rounding) -> int:
    return int(value.quantize(Decimal(1), rounding=_ROUNDING_MODES[rounding]))


def in_region(country_code: str | None, regions: Iterable[str]) -> bool:
    if country_code is None:
        return False
    code = country_code.upper()
    return any(code == region or code in REGIONS.get(region, ()) for region in regions)


def campaign_skip_reason(
    campaign: CampaignTerms, at: datetime, customer: CustomerFacts, country_code: str | None
) -> str | None:
    """Why the campaign does not apply here, or None when it does."""
    if not campaign.active:
        return "campaign is paused"
    if at < campaign.starts_at:
        return f"starts {campaign.starts_at.isoformat()}"
    if at >= campaign.ends_at:
        return f"ended {campaign.ends_at.isoformat()}"
    if campaign.rfm_segments and customer.rfm_segment not in campaign.rfm_segments:
        segment = customer.rfm_segment or "no segment yet"
        return f"for segments {', '.join(sorted(campaign.rfm_segments))}; customer is {segment}"
    if campaign.regions and not in_region(country_code, campaign.regions):
        where = country_code or "unknown region"
        return f"for regions {', '.join(sorted(campaign.regions))}; customer is in {where}"
    return None


def _action_points(config: ProgramConfig, action: EarnAction) -> int:
    rules = config.earning
    return {
        EarnAction.SIGNUP: rules.signup,
        EarnAction.NEWSLETTER: rules.newsletter,
        EarnAction.REVIEW: rules.review,
        EarnAction.BIRTHDAY: rules.birthday,
        EarnAction.SOCIAL_FOLLOW: rules.social_follow,
    }[action]


def validate_order(order: Order) -> None:
    if not order.order_id.strip():
        raise PointsError(PointsErrorCode.INVALID_ORDER, "order.id", "order id is required")
    if not 0 < len(order.lines) <= MAX_ORDER_LINES:
        raise PointsError(
            PointsErrorCode.INVALID_ORDER,
            "order.lines",
            f"an order needs 1 to {MAX_ORDER_LINES} lines",
        )
    seen: set[str] = set()
    for line in order.lines:
        if line.line_id in seen:
            raise PointsError(
                PointsErrorCode.INVALID_ORDER, "order.lines", f"line {line.line_id} appears twice"
            )
        seen.add(line.line_id)
        if line.quantity <= 0 or line.amount < 0:
            raise PointsError(
                PointsErrorCode.INVALID_ORDER,
                "order.lines",
                f"line {line.line_id}: quantity must be positive and amount not negative",
            )


def to_base_amount(config: ProgramConfig, currency: str, amount: Decimal) -> Decimal:
    rate = config.currencies.rate(currency)
    if rate is None:
        raise PointsError(
            PointsErrorCode.UNSUPPORTED_CURRENCY,
            "order.currency",
            f"{currency} is not one of the program's currencies "
            f"({', '.join(config.currencies.supported)})",
        )
    return (amount / rate).quantize(CENT, rounding=ROUND_HALF_UP)


class _Trace:
    def __init__(self) -> None:
        self.steps: list[TraceStep] = []

    def add(
        self,
        rule: str,
        applied: bool,
        detail: str,
        *,
        points: int | None = None,
        multiplier: Decimal | None = None,
    ) -> None:
        self.steps.append(TraceStep(rule, applied, detail, points, multiplier))


def _multiplier(
    config: ProgramConfig,
    campaigns: Sequence[CampaignTerms],
    action: EarnAction,
    customer: CustomerFacts,
    order: Order | None,
    at: datetime,
    trace: _Trace,
) -> Decimal:
    multiplier = Decimal(1)
    segment = customer.rfm_segment
    rfm = config.rfm_multipliers.get(segment) if segment else None
    if rfm is not None and rfm > 1:
        multiplier *= rfm
        trace.add("rfm_multiplier", True, f"{segment} earn x{rfm}", multiplier=rfm)
    else:
        why = f"segment {segment} has no multiplier" if segment else "no RFM segment yet"
        trace.add("rfm_multiplier", False, why)
    if action is EarnAction.PURCHASE and order is not None:
        multiplier *= _first_purchase(config, customer, order, trace)
        country = order.country_code or customer.country_code
        for campaign in campaigns:
            if campaign.kind != "double_points":
                continue
            reason = campaign_skip_reason(campaign, at, customer, country)
            rule = f"campaign:{campaign.name}"
            if reason is None:
                multiplier *= campaign.multiplier
                # A segment-targeted campaign names the segment it applied for.
                audience = f" for {segment}" if campaign.rfm_segments else ""
                trace.add(
                    rule,
                    True,
                    f"x{campaign.multiplier} points{audience}",
                    multiplier=campaign.multiplier,
                )
            else:
                trace.add(rule, False, reason)
    if multiplier > config.max_multiplier:
        trace.add(
            "max_multiplier",
            True,
            f"x{multiplier} capped at the program's maximum x{config.max_multiplier}",
            multiplier=config.max_multiplier,
        )
        multiplier = config.max_multiplier
    return multiplier


def _first_purchase(
    config: ProgramConfig, customer: CustomerFacts, order: Order, trace: _Trace
) -> Decimal:
    rule = config.first_purchase
    if rule is None:
        trace.add("first_purchase_multiplier", False, "not enabled")
        return Decimal(1)
    if customer.orders_count > 0:
        trace.add("first_purchase_multiplier", False, "not the customer's first order")
        return Decimal(1)
    window = timedelta(hours=rule.within_hours)
    if order.placed_at - customer.created_at > window:
        trace.add(
            "first_purchase_multiplier",
            False,
            f"first order placed more than {rule.within_hours} h after signing up",
        )
        return Decimal(1)
    trace.add(
        "first_purchase_multiplier",
        True,
        f"first order within {rule.within_hours} h of signing up: x{rule.multiplier}",
        multiplier=rule.multiplier,
    )
    return rule.multiplier


def _goal_bonuses(
    config: ProgramConfig,
    campaigns: Sequence[CampaignTerms],
    customer: CustomerFacts,
    order: Order,
    base_subtotal: Decimal,
    at: datetime,
    trace: _Trace,
) -> tuple[int, Decimal | None]:
    """Bonus points for reaching spend goals, and the highest goal the bonus depends on."""
    bonus = 0
    thresholds: list[Decimal] = []
    goal = config.earning.goal_spend
    if goal is not None:
        if base_subtotal >= goal.threshold:
            bonus += goal.points
            thresholds.append(goal.threshold)
            trace.add(
                "goal_spend",
                True,
                f"spent {base_subtotal} >= {goal.threshold} {config.currencies.base}",
                points=goal.points,
            )
        else:
            trace.add(
                "goal_spend",
                False,
                f"spent {base_subtotal} < {goal.threshold} {config.currencies.base}",
            )
    country = order.country_code or customer.country_code
    for campaign in campaigns:
        if campaign.kind != "goal_spend" or campaign.goal_amount is None:
            continue
        rule = f"campaign:{campaign.name}"
        reason = campaign_skip_reason(campaign, at, customer, country)
        if reason is None and base_subtotal < campaign.goal_amount:
            reason = f"spent {base_subtotal} < {campaign.goal_amount} {config.currencies.base}"
        if reason is None:
            points = campaign.bonus_points or 0
            bonus += points
            thresholds.append(campaign.goal_amount)
            trace.add(
                rule,
                True,
                f"spent {base_subtotal} >= {campaign.goal_amount} {config.currencies.base}",
                points=points,
            )
        else:
            trace.add(rule, False, reason)
    return bonus, (max(thresholds) if thresholds else None)


def calculate(
    config: ProgramConfig,
    campaigns: Sequence[CampaignTerms],
    *,
    action: EarnAction,
    customer: CustomerFacts,
    order: Order | None,
    at: datetime,
) -> Calculation:
    trace = _Trace()
    base_currency = config.currencies.base
    if action is EarnAction.PURCHASE:
        if order is None:
            raise PointsError(PointsErrorCode.ORDER_REQUIRED, "order", "a purchase needs its order")
        return _calculate_purchase(config, campaigns, customer, order, at, trace)
    if order is not None:
        raise PointsError(
            PointsErrorCode.INVALID_ORDER, "order", f"{action.value} does not take an order"
        )
    base_points = _action_points(config, action)
    if base_points == 0:
        trace.add(action.value, False, f"{action.value} earns nothing in this program")
        return Calculation(
            action, 0, Decimal(1), base_currency, Decimal(0), trace=tuple(trace.steps)
        )
    trace.add(action.value, True, f"{action.value} earns {base_points}", points=base_points)
    multiplier = _multiplier(config, campaigns, action, customer, None, at, trace)
    points = round_points(base_points * multiplier, config.rounding)
    return Calculation(
        action, points, multiplier, base_currency, Decimal(0), trace=tuple(trace.steps)
    )


def _calculate_purchase(
    config: ProgramConfig,
    campaigns: Sequence[CampaignTerms],
    customer: CustomerFacts,
    order: Order,
    at: datetime,
    trace: _Trace,
) -> Calculation:
    validate_order(order)
    base_lines = [to_base_amount(config, order.currency, line.amount) for line in order.lines]
    base_subtotal = sum(base_lines, Decimal(0))
    if order.channel not in config.channels:
        trace.add(
            "channel",
            False,
            f"{order.channel.value} orders do not earn in this program",
        )
        lines = tuple(
            LinePoints(line.line_id, line.quantity, line.amount, base, 0)
            for line, base in zip(order.lines, base_lines, strict=True)
        )
        return Calculation(
            EarnAction.PURCHASE,
            0,
            Decimal(1),
            order.currency,
            base_subtotal,
            lines,
            trace=tuple(trace.steps),
        )
    trace.add("channel", True, f"{order.channel.value} orders earn")
    if order.currency != config.currencies.base:
        rate = config.currencies.rate(order.currency)
        trace.add(
            "currency",
            True,
            f"{order.subtotal} {order.currency} = {base_subtotal} {config.currencies.base}"
            f" at {rate} {order.currency} per {config.currencies.base}",
        )
    per_unit = config.earning.purchase_points_per_unit
    trace.add(
        "purchase",
        per_unit > 0,
        f"{per_unit} points per {config.currencies.base} on {base_subtotal}",
    )
    multiplier = _multiplier(config, campaigns, EarnAction.PURCHASE, customer, order, at, trace)
    lines = tuple(
        LinePoints(
            line.line_id,
            line.quantity,
            line.amount,
            base,
            round_points(base * per_unit * multiplier, config.rounding),
        )
        for line, base in zip(order.lines, base_lines, strict=True)
    )
    bonus, goal_threshold = _goal_bonuses(
        config, campaigns, customer, order, base_subtotal, at, trace
    )
    points = sum(line.points for line in lines) + bonus
    return Calculation(
        EarnAction.PURCHASE,
        points,
        multiplier,
        order.currency,
        base_subtotal,
        lines,
        bonus_points=bonus,
        goal_threshold=goal_threshold,
        trace=tuple(trace.steps),
    )
