"""Campaign suggestions: each night, the week's segment movements are checked against a
small table of rules ("Champions slipping to At-Risk → 2x points for At-Risk for 7 days");
a movement of enough customers becomes a suggestion, once per movement and week, with its
evidence. Accepting one asks the worker to create the campaign in the points program (a
durable job: subgraphs never import each other); the campaign is created once, whatever the
retries. Dismissing one keeps it, decided, so the same week's movement is not suggested again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CampaignSuggestion, SuggestionStatus
from subgraphs.analytics.errors import AnalyticsError, AnalyticsErrorCode
from subgraphs.analytics.suggestions.repository import SuggestionRepository
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.jobs import job_queue
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.write_context import WriteContext

log = structlog.get_logger(__name__)

WINDOW = timedelta(days=7)
# Fewer customers than this moving is noise, not a trend worth a campaign.
MIN_CUSTOMERS = 5


@dataclass(frozen=True, slots=True)
class SlippingRule:
    """Customers moving from one of ``from_segments`` to ``to_segment``: win them back with
    ``multiplier`` x points for ``days`` days, for ``to_segment``."""

    from_segments: tuple[str, ...]
    to_segment: str
    multiplier: Decimal
    days: int


RULES = (
    SlippingRule(("Champions",), "At-Risk", Decimal(2), 7),
    SlippingRule(("Loyal",), "At-Risk", Decimal("1.5"), 7),
    SlippingRule(("Champions", "Loyal"), "Inactive", Decimal(2), 14),
)


def _week_of(at: datetime) -> str:
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


def headline(suggestion: CampaignSuggestion) -> str:
    """The suggestion in one line, as a dashboard shows it."""
    evidence, proposal = suggestion.evidence, suggestion.proposal
    return (
        f"{evidence['customers']} {evidence['from_segment']} moved to {evidence['to_segment']} "
        f"this week → {proposal['multiplier']}x points for {proposal['segment']} for "
        f"{proposal['days']} days"
    )


async def suggest(
    session: AsyncSession, merchant_id: str, *, now: datetime
) -> list[CampaignSuggestion]:
    """The week's movements against the rules: the new suggestions (one per rule, movement
    and week; seen again the same week, nothing new)."""
    repository = SuggestionRepository(session, merchant_id)
    since = now - WINDOW
    made = []
    for movement in await repository.movements(since, now):
        for rule in RULES:
            if movement.from_segment not in rule.from_segments:
                continue
            if movement.to_segment != rule.to_segment or movement.customers < MIN_CUSTOMERS:
                continue
            week = _week_of(now)
            evidence: dict[str, Any] = {
                "from_segment": movement.from_segment,
                "to_segment": movement.to_segment,
                "customers": movement.customers,
                "since": since.isoformat(),
                "until": now.isoformat(),
            }
            proposal = {
                "name": f"Win back {rule.to_segment} ({week}, from {movement.from_segment})",
                "kind": "double_points",
                "multiplier": str(rule.multiplier),
                "segment": rule.to_segment,
                "days": rule.days,
            }
            key = f"{movement.from_segment}->{movement.to_segment}:{week}"
            added = await repository.add(key, evidence, proposal)
            if added is not None:
                made.append(added)
    return made


async def _decided(
    write: WriteContext, suggestion_id: str, status: SuggestionStatus
) -> CampaignSuggestion:
    repository = SuggestionRepository(write.session, write.merchant_id)
    suggestion = await repository.get(suggestion_id, for_update=True)
    if suggestion is None:
        raise AnalyticsError(
            AnalyticsErrorCode.SUGGESTION_NOT_FOUND, "id", "the shop has no such suggestion"
        )
    if suggestion.status == status.value:
        return suggestion  # a retry: the decision stands
    if suggestion.status != SuggestionStatus.OPEN.value:
        raise AnalyticsError(
            AnalyticsErrorCode.SUGGESTION_DECIDED, "id", f"the suggestion was {suggestion.status}"
        )
    decided = await repository.decide(suggestion_id, status, at=write.now, by=write.actor_id)
    assert decided is not None, "locked above"
    action = (
        AuditAction.CAMPAIGN_SUGGESTION_ACCEPTED
        if status is SuggestionStatus.ACCEPTED
        else AuditAction.CAMPAIGN_SUGGESTION_DISMISSED
    )
    await write.audit.record(action, {"suggestion_id": suggestion_id, **suggestion.evidence})
    return decided


async def accept(write: WriteContext, suggestion_id: str) -> CampaignSuggestion:
    """Accept: the caller then asks the worker to create the campaign (``campaign_id`` is set
    once it has)."""
    return await _decided(write, suggestion_id, SuggestionStatus.ACCEPTED)


async def dismiss(write: WriteContext, suggestion_id: str) -> CampaignSuggestion:
    return await _decided(write, suggestion_id, SuggestionStatus.DISMISSED)


async def suggestions_page(
    session: AsyncSession, merchant_id: str, page: PageRequest, status: SuggestionStatus | None
) -> Page[CampaignSuggestion]:
    return await SuggestionRepository(session, merchant_id).page(page, status)


async def suggestion(
    session: AsyncSession, merchant_id: str, suggestion_id: str
) -> CampaignSuggestion | None:
    return await SuggestionRepository(session, merchant_id).get(suggestion_id)


async def linked(
    session: AsyncSession, merchant_id: str, suggestion_id: str, campaign_id: str
) -> None:
    """The worker made the suggestion's campaign."""
    await SuggestionRepository(session, merchant_id).link_campaign(suggestion_id, campaign_id)


async def awaiting_campaign(session: AsyncSession, merchant_id: str) -> list[str]:
    return await SuggestionRepository(session, merchant_id).accepted_without_campaign()


# The worker's job (worker/analytics/jobs.py) that creates an accepted suggestion's campaign:
# arq runs jobs by name, so analytics never imports the worker or the points program.
CREATE_SUGGESTED_CAMPAIGN = "create_suggested_campaign"


def campaign_job_id(suggestion_id: str) -> str:
    """One job per suggestion at a time: a second accept, or a sweep, adds nothing."""
    return f"suggested-campaign:{suggestion_id}"


async def enqueue_campaign_creation(redis: Redis, merchant_id: str, suggestion_id: str) -> bool:
    """Ask the worker to create the suggestion's campaign; False when Redis is away (the
    sweeper asks again)."""
    try:
        await job_queue(redis).enqueue_job(
            CREATE_SUGGESTED_CAMPAIGN,
            merchant_id,
            suggestion_id,
            _job_id=campaign_job_id(suggestion_id),
        )
    except (RedisError, OSError) as error:
        log.warning(
            "suggested_campaign_enqueue_failed", suggestion_id=suggestion_id, error=str(error)
        )
        return False
    return True
