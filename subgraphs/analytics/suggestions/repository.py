"""Every SQL statement on ``campaign_suggestions``, and the segment movements read from
``rfm_score_history`` that suggestions come from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text

from db.ids import new_id
from db.models import CampaignSuggestion, SuggestionStatus
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import TenantRepository


@dataclass(frozen=True, slots=True)
class SegmentMovement:
    """Customers whose segment was ``from_segment`` before ``since`` and is ``to_segment``
    at the end of the window."""

    from_segment: str
    to_segment: str
    customers: int


# Each customer's last segment before the window against their last one in it: one pass
# over the window's history (only changes are written there).
_MOVEMENTS = text(
    """
    WITH before AS (
        SELECT DISTINCT ON (customer_id) customer_id, segment
        FROM rfm_score_history
        WHERE merchant_id = :merchant_id AND computed_at < :since
        ORDER BY customer_id, computed_at DESC
    ),
    after AS (
        SELECT DISTINCT ON (customer_id) customer_id, segment
        FROM rfm_score_history
        WHERE merchant_id = :merchant_id AND computed_at >= :since AND computed_at < :until
        ORDER BY customer_id, computed_at DESC
    )
    SELECT before.segment, after.segment, count(*)
    FROM before JOIN after USING (customer_id)
    WHERE before.segment IS NOT NULL AND after.segment IS NOT NULL
      AND before.segment <> after.segment
    GROUP BY before.segment, after.segment
    """
)


class SuggestionRepository(TenantRepository[CampaignSuggestion]):
    model = CampaignSuggestion

    async def movements(self, since: datetime, until: datetime) -> list[SegmentMovement]:
        rows = await self._session.execute(
            _MOVEMENTS, {"merchant_id": self._merchant_id, "since": since, "until": until}
        )
        return [SegmentMovement(before, after, int(count)) for before, after, count in rows]

    async def add(
        self, dedupe_key: str, evidence: dict[str, Any], proposal: dict[str, Any]
    ) -> CampaignSuggestion | None:
        """The new suggestion, or None when this movement was suggested already."""
        return await self.insert_new(
            {
                "id": new_id(),
                "dedupe_key": dedupe_key,
                "status": SuggestionStatus.OPEN.value,
                "evidence": evidence,
                "proposal": proposal,
            }
        )

    async def get(
        self, suggestion_id: str, *, for_update: bool = False
    ) -> CampaignSuggestion | None:
        return await self.get_one_or_none(self._id_is(suggestion_id), for_update=for_update)

    async def decide(
        self, suggestion_id: str, status: SuggestionStatus, *, at: datetime, by: str | None
    ) -> CampaignSuggestion | None:
        return await self.update_one(
            suggestion_id, {"status": status.value, "decided_at": at, "decided_by": by}
        )

    async def link_campaign(self, suggestion_id: str, campaign_id: str) -> None:
        await self.update_one(suggestion_id, {"campaign_id": campaign_id})

    async def accepted_without_campaign(self) -> list[str]:
        """Accepted suggestions whose campaign the worker has not made yet (a lost job)."""
        rows = await self.get_all(
            CampaignSuggestion.status == SuggestionStatus.ACCEPTED.value,
            CampaignSuggestion.campaign_id.is_(None),
        )
        return [row.id for row in rows]

    async def page(
        self, request: PageRequest, status: SuggestionStatus | None
    ) -> Page[CampaignSuggestion]:
        """Newest first (ids are time-ordered)."""
        conditions = [] if status is None else [CampaignSuggestion.status == status.value]
        found: Page[CampaignSuggestion] = await self.paginate(
            request, *conditions, keyset=(CampaignSuggestion.id,), descending=True
        )
        return found
