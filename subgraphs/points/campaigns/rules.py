"""What a valid campaign is: the terms each kind takes, its window and its conditions, and how
an update merges over a stored campaign. Pure: no I/O; ``campaigns.service`` stores the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from db.models import BonusCampaign, CampaignKind
from subgraphs.points.errors import PointsError, PointsErrorCode, is_short_text
from subgraphs.points.program.calculation import COUNTRY_CODES, REGIONS
from subgraphs.points.program.service import MAX_MULTIPLIER

MAX_NAME_LENGTH = 100
MAX_CONDITION_VALUES = 50
MAX_SEGMENT_LENGTH = 60
MAX_BONUS_POINTS = 1_000_000
MAX_GOAL_AMOUNT = Decimal("9999999999.99")  # numeric(12, 2)
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class CampaignDraft:
    name: str
    kind: CampaignKind
    starts_at: datetime
    ends_at: datetime
    multiplier: Decimal | None = None
    goal_amount: Decimal | None = None
    bonus_points: int | None = None
    discount_percent: Decimal | None = None
    rfm_segments: Sequence[str] = ()
    regions: Sequence[str] = ()
    active: bool = True


@dataclass(frozen=True, slots=True)
class CampaignChanges:
    """An update: None keeps the current value. Changing ``kind`` drops the old kind's terms
    unless they are given again."""

    name: str | None = None
    kind: CampaignKind | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    multiplier: Decimal | None = None
    goal_amount: Decimal | None = None
    bonus_points: int | None = None
    discount_percent: Decimal | None = None
    rfm_segments: Sequence[str] | None = None
    regions: Sequence[str] | None = None
    active: bool | None = None


# Which optional term each kind takes; the others must stay empty.
_TERMS: dict[CampaignKind, frozenset[str]] = {
    CampaignKind.DOUBLE_POINTS: frozenset({"multiplier"}),
    CampaignKind.GOAL_SPEND: frozenset({"goal_amount", "bonus_points"}),
    CampaignKind.DISCOUNT: frozenset({"discount_percent"}),
}
_TERM_FIELDS = {
    "multiplier": "multiplier",
    "goal_amount": "goalAmount",
    "bonus_points": "bonusPoints",
    "discount_percent": "discountPercent",
}


def invalid_campaign(field_path: str, message: str) -> PointsError:
    return PointsError(PointsErrorCode.INVALID_CAMPAIGN, field_path, message)


def _name(name: str) -> str:
    stripped = name.strip()
    if not is_short_text(stripped, MAX_NAME_LENGTH):
        raise invalid_campaign("name", f"name must be 1 to {MAX_NAME_LENGTH} characters")
    return stripped


def _window(starts_at: datetime, ends_at: datetime) -> None:
    for field_path, moment in (("startsAt", starts_at), ("endsAt", ends_at)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise invalid_campaign(
                field_path, "give the time with a UTC offset, e.g. 2026-11-27T00:00Z"
            )
    if ends_at <= starts_at:
        raise invalid_campaign("endsAt", "the campaign must end after it starts")


def _decimal(value: Decimal, field_path: str, low: Decimal, high: Decimal, what: str) -> Decimal:
    """``low`` < value <= ``high``, at most 2 decimals (the column's scale)."""
    if not value.is_finite() or not low < value <= high or value != value.quantize(CENT):
        raise invalid_campaign(field_path, f"{what}, with at most 2 decimals")
    return value.quantize(CENT)


def _terms(kind: CampaignKind, terms: dict[str, Any]) -> dict[str, Any]:
    """The four term columns for ``kind``, validated; terms of other kinds are refused."""
    for term, value in terms.items():
        if value is not None and term not in _TERMS[kind]:
            raise invalid_campaign(
                _TERM_FIELDS[term], f"{_TERM_FIELDS[term]} does not apply to {kind}"
            )
    columns: dict[str, Any] = {
        "multiplier": Decimal(1),
        "goal_amount": None,
        "bonus_points": None,
        "discount_percent": None,
    }
    if kind is CampaignKind.DOUBLE_POINTS:
        multiplier = terms.get("multiplier")
        if multiplier is None:
            raise invalid_campaign("multiplier", "a double_points campaign needs a multiplier")
        columns["multiplier"] = _decimal(
            multiplier,
            "multiplier",
            Decimal(1),
            MAX_MULTIPLIER,
            f"above 1 and at most {MAX_MULTIPLIER}",
        )
    elif kind is CampaignKind.GOAL_SPEND:
        goal, bonus = terms.get("goal_amount"), terms.get("bonus_points")
        if goal is None:
            raise invalid_campaign("goalAmount", "a goal_spend campaign needs the amount to reach")
        if bonus is None or not 0 < bonus <= MAX_BONUS_POINTS:
            raise invalid_campaign("bonusPoints", f"bonusPoints must be 1 to {MAX_BONUS_POINTS}")
        columns["goal_amount"] = _decimal(
            goal, "goalAmount", Decimal(0), MAX_GOAL_AMOUNT, "above 0 in the shop currency"
        )
        columns["bonus_points"] = bonus
    else:
        percent = terms.get("discount_percent")
        if percent is None:
            raise invalid_campaign("discountPercent", "a discount campaign needs a percent")
        percent = _decimal(
            percent, "discountPercent", Decimal(0), Decimal(100), "above 0 and below 100"
        )
        if percent == 100:
            raise invalid_campaign("discountPercent", "below 100: a reward cannot become free")
        columns["discount_percent"] = percent
    return columns


def _segments(segments: Sequence[str]) -> list[str]:
    cleaned = list(dict.fromkeys(segment.strip() for segment in segments))
    if len(cleaned) > MAX_CONDITION_VALUES:
        raise invalid_campaign("conditions.rfmSegments", f"at most {MAX_CONDITION_VALUES} segments")
    for segment in cleaned:
        if not is_short_text(segment, MAX_SEGMENT_LENGTH):
            raise invalid_campaign(
                "conditions.rfmSegments", f"segment names are 1 to {MAX_SEGMENT_LENGTH} characters"
            )
    return cleaned


def _regions(regions: Sequence[str]) -> list[str]:
    cleaned = list(dict.fromkeys(region.strip().upper() for region in regions))
    if len(cleaned) > MAX_CONDITION_VALUES:
        raise invalid_campaign("conditions.regions", f"at most {MAX_CONDITION_VALUES} regions")
    known = COUNTRY_CODES | REGIONS.keys()
    unknown = [region for region in cleaned if region not in known]
    if unknown:
        raise invalid_campaign(
            "conditions.regions",
            f"{', '.join(unknown)}: use ISO country codes (GB, not UK) or "
            f"{', '.join(sorted(REGIONS))}",
        )
    return cleaned


def columns(draft: CampaignDraft) -> dict[str, Any]:
    """Every column of a campaign row, validated."""
    _window(draft.starts_at, draft.ends_at)
    conditions: dict[str, Any] = {}
    segments, regions = _segments(draft.rfm_segments), _regions(draft.regions)
    if segments:
        conditions["rfm_segments"] = segments
    if regions:
        conditions["regions"] = regions
    return {
        "name": _name(draft.name),
        "kind": draft.kind.value,
        "starts_at": draft.starts_at,
        "ends_at": draft.ends_at,
        "conditions": conditions,
        "active": draft.active,
        **_terms(draft.kind, {term: getattr(draft, term) for term in _TERM_FIELDS}),
    }


def snapshot(campaign: BonusCampaign) -> dict[str, Any]:
    return {
        "campaign_id": campaign.id,
        "name": campaign.name,
        "kind": campaign.kind,
        "multiplier": str(campaign.multiplier),
        "goal_amount": None if campaign.goal_amount is None else str(campaign.goal_amount),
        "bonus_points": campaign.bonus_points,
        "discount_percent": (
            None if campaign.discount_percent is None else str(campaign.discount_percent)
        ),
        "starts_at": campaign.starts_at.isoformat(),
        "ends_at": campaign.ends_at.isoformat(),
        "conditions": campaign.conditions,
        "active": campaign.active,
    }


def merged(current: BonusCampaign, changes: CampaignChanges) -> CampaignDraft:
    kind = changes.kind or CampaignKind(current.kind)
    # The current terms carry over only while the kind stays; given terms always apply.
    keep = kind.value == current.kind
    conditions = current.conditions or {}

    def term(given: Any, stored: Any) -> Any:
        return given if given is not None else (stored if keep else None)

    return CampaignDraft(
        name=current.name if changes.name is None else changes.name,
        kind=kind,
        starts_at=changes.starts_at or current.starts_at,
        ends_at=changes.ends_at or current.ends_at,
        multiplier=term(
            changes.multiplier,
            current.multiplier if kind is CampaignKind.DOUBLE_POINTS else None,
        ),
        goal_amount=term(changes.goal_amount, current.goal_amount),
        bonus_points=term(changes.bonus_points, current.bonus_points),
        discount_percent=term(changes.discount_percent, current.discount_percent),
        rfm_segments=(
            conditions.get("rfm_segments", [])
            if changes.rfm_segments is None
            else changes.rfm_segments
        ),
        regions=conditions.get("regions", []) if changes.regions is None else changes.regions,
        active=current.active if changes.active is None else changes.active,
    )
