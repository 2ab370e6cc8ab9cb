"""Bonus campaigns: creating, editing and deleting them, listing them, and the reward discount
a running ``discount`` campaign gives. Earning campaigns (double points, goal spend) are applied
by the calculation, which reads them through ``running_campaign_terms``.

Delete is a real delete. A paused campaign (``active`` false) is a different thing the
merchant can resume, and the model has no tombstone column to tell the two apart; nothing
references a campaign by id (ledger traces keep its name and terms), and the audit log keeps a
snapshot of what was deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.models import BonusCampaign, CampaignKind, Customer
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import AuditTrail
from subgraphs.points.campaigns.repository import CampaignRepository
from subgraphs.points.customers.service import customer_facts
from subgraphs.points.errors import PointsError, PointsErrorCode, is_short_text
from subgraphs.points.program.calculation import (
    COUNTRY_CODES,
    REGIONS,
    CampaignTerms,
    campaign_skip_reason,
)
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


def _invalid(field_path: str, message: str) -> PointsError:
    return PointsError(PointsErrorCode.INVALID_CAMPAIGN, field_path, message)


def _name(name: str) -> str:
    stripped = name.strip()
    if not is_short_text(stripped, MAX_NAME_LENGTH):
        raise _invalid("name", f"name must be 1 to {MAX_NAME_LENGTH} characters")
    return stripped


def _window(starts_at: datetime, ends_at: datetime) -> None:
    for field_path, moment in (("startsAt", starts_at), ("endsAt", ends_at)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise _invalid(field_path, "give the time with a UTC offset, e.g. 2026-11-27T00:00Z")
    if ends_at <= starts_at:
        raise _invalid("endsAt", "the campaign must end after it starts")


def _decimal(value: Decimal, field_path: str, low: Decimal, high: Decimal, what: str) -> Decimal:
    """``low`` < value <= ``high``, at most 2 decimals (the column's scale)."""
    if not value.is_finite() or not low < value <= high or value != value.quantize(CENT):
        raise _invalid(field_path, f"{what}, with at most 2 decimals")
    return value.quantize(CENT)


def _terms(kind: CampaignKind, terms: dict[str, Any]) -> dict[str, Any]:
    """The four term columns for ``kind``, validated; terms of other kinds are refused."""
    for term, value in terms.items():
        if value is not None and term not in _TERMS[kind]:
            raise _invalid(_TERM_FIELDS[term], f"{_TERM_FIELDS[term]} does not apply to {kind}")
    columns: dict[str, Any] = {
        "multiplier": Decimal(1),
        "goal_amount": None,
        "bonus_points": None,
        "discount_percent": None,
    }
    if kind is CampaignKind.DOUBLE_POINTS:
        multiplier = terms.get("multiplier")
        if multiplier is None:
            raise _invalid("multiplier", "a double_points campaign needs a multiplier")
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
            raise _invalid("goalAmount", "a goal_spend campaign needs the amount to reach")
        if bonus is None or not 0 < bonus <= MAX_BONUS_POINTS:
            raise _invalid("bonusPoints", f"bonusPoints must be 1 to {MAX_BONUS_POINTS}")
        columns["goal_amount"] = _decimal(
            goal, "goalAmount", Decimal(0), MAX_GOAL_AMOUNT, "above 0 in the shop currency"
        )
        columns["bonus_points"] = bonus
    else:
        percent = terms.get("discount_percent")
        if percent is None:
            raise _invalid("discountPercent", "a discount campaign needs a percent")
        percent = _decimal(
            percent, "discountPercent", Decimal(0), Decimal(100), "above 0 and below 100"
        )
        if percent == 100:
            raise _invalid("discountPercent", "below 100: a reward cannot become free")
        columns["discount_percent"] = percent
    return columns


def _segments(segments: Sequence[str]) -> list[str]:
    cleaned = list(dict.fromkeys(segment.strip() for segment in segments))
    if len(cleaned) > MAX_CONDITION_VALUES:
        raise _invalid("conditions.rfmSegments", f"at most {MAX_CONDITION_VALUES} segments")
    for segment in cleaned:
        if not is_short_text(segment, MAX_SEGMENT_LENGTH):
            raise _invalid(
                "conditions.rfmSegments", f"segment names are 1 to {MAX_SEGMENT_LENGTH} characters"
            )
    return cleaned


def _regions(regions: Sequence[str]) -> list[str]:
    cleaned = list(dict.fromkeys(region.strip().upper() for region in regions))
    if len(cleaned) > MAX_CONDITION_VALUES:
        raise _invalid("conditions.regions", f"at most {MAX_CONDITION_VALUES} regions")
    known = COUNTRY_CODES | REGIONS.keys()
    unknown = [region for region in cleaned if region not in known]
    if unknown:
        raise _invalid(
            "conditions.regions",
            f"{', '.join(unknown)}: use ISO country codes (GB, not UK) or "
            f"{', '.join(sorted(REGIONS))}",
        )
    return cleaned


def _columns(draft: CampaignDraft) -> dict[str, Any]:
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


def _snapshot(campaign: BonusCampaign) -> dict[str, Any]:
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


async def _check_name_free(
    repository: CampaignRepository, name: str, except_id: str | None = None
) -> None:
    # Traces name campaigns (campaign:<name>): two campaigns with one name would be ambiguous.
    if await repository.name_taken(name, except_id=except_id):
        raise _invalid("name", f"another campaign is named {name!r}")


async def create_campaign(
    session: AsyncSession, merchant_id: str, draft: CampaignDraft, *, actor_id: str | None = None
) -> BonusCampaign:
    columns = _columns(draft)
    repository = CampaignRepository(session, merchant_id)
    await _check_name_free(repository, columns["name"])
    campaign = await repository.insert_one({"id": new_id(), **columns})
    await AuditTrail(session, merchant_id, actor_id).record("campaign_created", _snapshot(campaign))
    return campaign


def _merged(current: BonusCampaign, changes: CampaignChanges) -> CampaignDraft:
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


def _not_found() -> PointsError:
    return PointsError(PointsErrorCode.CAMPAIGN_NOT_FOUND, "id", "campaign not found")


async def _campaign_or_error(repository: CampaignRepository, campaign_id: str) -> BonusCampaign:
    campaign = await repository.campaign(campaign_id)
    if campaign is None:
        raise _not_found()
    return campaign


async def update_campaign(
    session: AsyncSession,
    merchant_id: str,
    campaign_id: str,
    changes: CampaignChanges,
    *,
    actor_id: str | None = None,
) -> BonusCampaign:
    repository = CampaignRepository(session, merchant_id)
    current = await _campaign_or_error(repository, campaign_id)
    before = _snapshot(current)
    columns = _columns(_merged(current, changes))
    if columns["name"] != current.name:
        await _check_name_free(repository, columns["name"], campaign_id)
    campaign = await repository.update_one(campaign_id, columns)
    if campaign is None:  # deleted by a concurrent request since we read it
        raise _not_found()
    await AuditTrail(session, merchant_id, actor_id).record(
        "campaign_updated",
        {"campaign_id": campaign_id, "before": before, "after": _snapshot(campaign)},
    )
    return campaign


async def delete_campaign(
    session: AsyncSession, merchant_id: str, campaign_id: str, *, actor_id: str | None = None
) -> None:
    repository = CampaignRepository(session, merchant_id)
    campaign = await _campaign_or_error(repository, campaign_id)
    snapshot = _snapshot(campaign)
    if not await repository.delete_one(campaign_id):
        raise _not_found()
    await AuditTrail(session, merchant_id, actor_id).record("campaign_deleted", snapshot)


def campaign_position(campaign: BonusCampaign) -> tuple[str, str]:
    return (campaign.starts_at.isoformat(), campaign.id)


def _checked_position(request: PageRequest) -> PageRequest:
    """A cursor from ``campaign_position``; anything else is the client's mistake."""
    if request.after is None:
        return request
    try:
        starts_at, campaign_id = request.after
        datetime.fromisoformat(str(starts_at))
    except (TypeError, ValueError):
        raise PointsError(PointsErrorCode.INVALID_QUERY, "after", "invalid cursor") from None
    return PageRequest(request.limit, (str(starts_at), str(campaign_id)))


async def campaigns_page(
    session: AsyncSession,
    merchant_id: str,
    request: PageRequest,
    *,
    active_at: datetime | None = None,
) -> Page[BonusCampaign]:
    """The merchant's campaigns, latest start first; ``active_at``: only those running then."""
    if active_at is not None and active_at.tzinfo is None:
        raise PointsError(
            PointsErrorCode.INVALID_QUERY, "activeAt", "give the time with a UTC offset"
        )
    return await CampaignRepository(session, merchant_id).page(
        _checked_position(request), active_at=active_at
    )


def campaign_terms(row: BonusCampaign) -> CampaignTerms:
    """A stored campaign as the calculation reads it."""
    conditions = row.conditions or {}
    return CampaignTerms(
        id=row.id,
        name=row.name,
        kind=row.kind,
        multiplier=row.multiplier,
        goal_amount=row.goal_amount,
        bonus_points=row.bonus_points,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        rfm_segments=frozenset(conditions.get("rfm_segments") or ()),
        regions=frozenset(conditions.get("regions") or ()),
        active=row.active,
    )


async def running_campaign_terms(
    session: AsyncSession, merchant_id: str, at: datetime
) -> list[CampaignTerms]:
    """The campaigns running at ``at``, oldest first (a stable trace order)."""
    return [
        campaign_terms(row) for row in await CampaignRepository(session, merchant_id).running(at)
    ]


async def reward_cost_discount(
    session: AsyncSession, merchant_id: str, at: datetime, customer: Customer
) -> tuple[Decimal, str] | None:
    """The percent off rewards' points cost for ``customer`` at ``at``, and the campaign that
    gives it; None when no discount campaign applies. Discounts do not stack: the largest
    one applies (the earliest-started on a tie), so overlapping campaigns cannot make a
    reward free."""
    facts = customer_facts(customer)
    best: tuple[Decimal, str] | None = None
    for row in await CampaignRepository(session, merchant_id).running(
        at, kind=CampaignKind.DISCOUNT.value
    ):
        percent = row.discount_percent
        if percent is None or campaign_skip_reason(
            campaign_terms(row), at, facts, customer.country_code
        ):
            continue
        if best is None or percent > best[0]:
            best = (percent, row.name)
    return best
