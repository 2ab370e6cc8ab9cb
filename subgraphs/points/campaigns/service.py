"""Bonus campaigns: creating, editing and deleting them (valid as ``campaigns.rules`` says),
listing them, and the reward discount a running ``discount`` campaign gives. Earning campaigns
(double points, goal spend) are applied by the calculation, which reads them through
``running_campaign_terms``.

Delete is a real delete. A paused campaign (``active`` false) is a different thing the
merchant can resume, and the model has no tombstone column to tell the two apart; nothing
references a campaign by id (ledger traces keep its name and terms), and the audit log keeps a
snapshot of what was deleted.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.models import BonusCampaign, CampaignKind, Customer
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.deletions import Deletions
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.campaigns import rules as campaign_rules
from subgraphs.points.campaigns.repository import CampaignNameTaken, CampaignRepository
from subgraphs.points.campaigns.rules import CampaignChanges, CampaignDraft
from subgraphs.points.customers.service import customer_facts
from subgraphs.points.errors import (
    MAX_CREATE_KEY_LENGTH,
    PointsError,
    PointsErrorCode,
    check_idempotency_key,
    check_replay,
    input_fingerprint,
    version_checked,
)
from subgraphs.points.program.calculation import CampaignTerms, campaign_skip_reason


async def _check_name_free(
    repository: CampaignRepository, name: str, except_id: str | None = None
) -> None:
    # Traces name campaigns (campaign:<name>): two campaigns with one name would be ambiguous.
    if await repository.name_taken(name, except_id=except_id):
        raise _name_taken(name)


def _name_taken(name: str) -> PointsError:
    return campaign_rules.invalid_campaign("name", f"another campaign is named {name!r}")


# The entity name of deleted campaigns in ``deletions``.
DELETED_CAMPAIGN = "BonusCampaign"


async def create_campaign(
    write: WriteContext,
    draft: CampaignDraft,
    *,
    idempotency_key: str,
) -> BonusCampaign:
    """Once per idempotency key: a retry of the same request returns the campaign the first
    one made, with no second row or audit entry; a different request under the key is
    IDEMPOTENCY_KEY_REUSED. Postgres keeps names unique (uq_bonus_campaigns_merchant_id_name),
    so concurrent creates of one name cannot both succeed."""
    check_idempotency_key(idempotency_key, MAX_CREATE_KEY_LENGTH)
    columns = campaign_rules.columns(draft)
    fingerprint = input_fingerprint(columns)
    repository = CampaignRepository(write.session, write.merchant_id)
    campaign = await repository.insert_new(
        {
            "id": new_id(),
            **columns,
            "idempotency_key": idempotency_key,
            "idempotency_fingerprint": fingerprint,
        }
    )
    if campaign is None:
        # The key is taken (an earlier or concurrent attempt), or else the name is.
        existing = await repository.campaign_by_idempotency_key(idempotency_key)
        if existing is None:
            raise _name_taken(columns["name"])
        check_replay(existing.idempotency_fingerprint, fingerprint)
        return existing
    await write.audit.record(AuditAction.CAMPAIGN_CREATED, campaign_rules.snapshot(campaign))
    return campaign


def _not_found() -> PointsError:
    return PointsError(PointsErrorCode.CAMPAIGN_NOT_FOUND, "id", "campaign not found")


async def _campaign_or_error(repository: CampaignRepository, campaign_id: str) -> BonusCampaign:
    campaign = await repository.campaign(campaign_id)
    if campaign is None:
        raise _not_found()
    return campaign


async def update_campaign(
    write: WriteContext,
    campaign_id: str,
    changes: CampaignChanges,
    *,
    expected_version: int | None = None,
) -> BonusCampaign:
    """Merge ``changes`` over the campaign and validate the result as a whole; only over
    ``expected_version`` when given (decided by the UPDATE, as campaigns are not locked)."""
    repository = CampaignRepository(write.session, write.merchant_id)
    current = await _campaign_or_error(repository, campaign_id)
    before = campaign_rules.snapshot(current)
    columns = campaign_rules.columns(campaign_rules.merged(current, changes))
    if columns["name"] != current.name:
        await _check_name_free(repository, columns["name"], campaign_id)
    try:
        with version_checked("campaign", expected_version):
            campaign = await repository.update_campaign(
                campaign_id, columns, expected_version=expected_version
            )
    except CampaignNameTaken:  # a concurrent create or rename took it since the check
        raise _name_taken(columns["name"]) from None
    if campaign is None:  # deleted by a concurrent request since we read it
        raise _not_found()
    await write.audit.record(
        AuditAction.CAMPAIGN_UPDATED,
        {"campaign_id": campaign_id, "before": before, "after": campaign_rules.snapshot(campaign)},
    )
    return campaign


async def delete_campaign(write: WriteContext, campaign_id: str) -> None:
    """Delete for good, safe to retry: a campaign this merchant deleted already is deleted
    (the record in ``deletions`` says so); an id that never was theirs is CAMPAIGN_NOT_FOUND."""
    repository = CampaignRepository(write.session, write.merchant_id)
    deletions = Deletions(write.session, write.merchant_id, DELETED_CAMPAIGN)
    campaign = await repository.campaign(campaign_id)
    if campaign is None or not await repository.delete_one(campaign_id):
        if await deletions.deleted(campaign_id):
            return
        raise _not_found()
    await deletions.record(campaign_id)
    await write.audit.record(AuditAction.CAMPAIGN_DELETED, campaign_rules.snapshot(campaign))


def campaign_position(campaign: BonusCampaign) -> tuple[str, str]:
    return (campaign.starts_at.isoformat(), campaign.id)


def _checked_position(request: PageRequest) -> PageRequest:
    """A cursor from ``campaign_position``; anything else is the client's mistake."""
    if request.cursor is None:
        return request
    try:
        starts_at, campaign_id = request.cursor
        datetime.fromisoformat(str(starts_at))
    except (TypeError, ValueError):
        field = "before" if request.backward else "after"
        raise PointsError(PointsErrorCode.INVALID_QUERY, field, "invalid cursor") from None
    return replace(request, cursor=(str(starts_at), str(campaign_id)))


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


async def campaign_terms_ending_after(
    session: AsyncSession, merchant_id: str, cutoff: datetime
) -> list[CampaignTerms]:
    """The active campaigns that end after ``cutoff``, oldest first."""
    rows = await CampaignRepository(session, merchant_id).active_ending_after(cutoff)
    return [campaign_terms(row) for row in rows]


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
