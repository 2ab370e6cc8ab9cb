"""Every SQL statement on ``bonus_campaigns``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select

from db.models import BonusCampaign
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import TenantRepository


def _running_at(at: datetime) -> list[ColumnElement[bool]]:
    return [
        BonusCampaign.active.is_(True),
        BonusCampaign.starts_at <= at,
        BonusCampaign.ends_at > at,
    ]


class CampaignRepository(TenantRepository[BonusCampaign]):
    model = BonusCampaign

    async def running(self, at: datetime, *, kind: str | None = None) -> list[BonusCampaign]:
        """Active campaigns (of ``kind``, if given) whose window contains ``at``, oldest first
        (a stable trace order)."""
        conditions = _running_at(at)
        if kind is not None:
            conditions.append(BonusCampaign.kind == kind)
        return await self.get_all(*conditions, order_by=(BonusCampaign.starts_at, BonusCampaign.id))

    async def page(
        self, request: PageRequest, *, active_at: datetime | None
    ) -> Page[BonusCampaign]:
        """Newest start first; ``active_at`` keeps the campaigns running at that moment."""
        return await self.paginate(
            request,
            *([] if active_at is None else _running_at(active_at)),
            keyset=(BonusCampaign.starts_at, BonusCampaign.id),
            descending=True,
        )

    async def campaign(self, campaign_id: str) -> BonusCampaign | None:
        return await self.get_one_or_none(BonusCampaign.id == campaign_id)

    async def name_taken(self, name: str, *, except_id: str | None = None) -> bool:
        query = select(BonusCampaign.id).where(self._mine, BonusCampaign.name == name)
        if except_id is not None:
            query = query.where(BonusCampaign.id != except_id)
        return (await self._session.scalars(query.limit(1))).first() is not None
