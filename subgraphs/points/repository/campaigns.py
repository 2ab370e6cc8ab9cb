"""SQL of bonus campaigns."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import BonusCampaign
from subgraphs.kit.pagination import Page, PageRequest


class CampaignRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    async def running(self, at: datetime) -> list[BonusCampaign]:
        """Active campaigns whose window contains ``at``, oldest first (a stable trace order)."""
        result = await self._session.scalars(
            select(BonusCampaign)
            .where(
                BonusCampaign.merchant_id == self._merchant_id,
                BonusCampaign.active.is_(True),
                BonusCampaign.starts_at <= at,
                BonusCampaign.ends_at > at,
            )
            .order_by(BonusCampaign.starts_at, BonusCampaign.id)
        )
        return list(result)

    async def running_of_kind(self, at: datetime, kind: str) -> list[BonusCampaign]:
        result = await self._session.scalars(
            select(BonusCampaign)
            .where(
                BonusCampaign.merchant_id == self._merchant_id,
                BonusCampaign.kind == kind,
                BonusCampaign.active.is_(True),
                BonusCampaign.starts_at <= at,
                BonusCampaign.ends_at > at,
            )
            .order_by(BonusCampaign.starts_at, BonusCampaign.id)
        )
        return list(result)

    async def page(
        self, request: PageRequest, *, active_at: datetime | None
    ) -> Page[BonusCampaign]:
        """Newest start first; ``active_at`` keeps the campaigns running at that moment."""
        query = select(BonusCampaign).where(BonusCampaign.merchant_id == self._merchant_id)
        if active_at is not None:
            query = query.where(
                BonusCampaign.active.is_(True),
                BonusCampaign.starts_at <= active_at,
                BonusCampaign.ends_at > active_at,
            )
        if request.after is not None:
            starts_at, campaign_id = request.after
            query = query.where(
                tuple_(BonusCampaign.starts_at, BonusCampaign.id)
                < tuple_(datetime.fromisoformat(str(starts_at)), str(campaign_id))
            )
        rows = await self._session.scalars(
            query.order_by(BonusCampaign.starts_at.desc(), BonusCampaign.id.desc()).limit(
                request.limit + 1
            )
        )
        return Page.from_overfetch(list(rows), request.limit)

    async def campaign(self, campaign_id: str) -> BonusCampaign | None:
        result = await self._session.scalars(
            select(BonusCampaign).where(
                BonusCampaign.merchant_id == self._merchant_id, BonusCampaign.id == campaign_id
            )
        )
        return result.one_or_none()

    async def name_taken(self, name: str, *, except_id: str | None = None) -> bool:
        query = select(BonusCampaign.id).where(
            BonusCampaign.merchant_id == self._merchant_id, BonusCampaign.name == name
        )
        if except_id is not None:
            query = query.where(BonusCampaign.id != except_id)
        return (await self._session.scalars(query.limit(1))).first() is not None

    async def insert(self, campaign_id: str, values: Mapping[str, Any]) -> BonusCampaign:
        result = await self._session.scalars(
            insert(BonusCampaign)
            .values(merchant_id=self._merchant_id, id=campaign_id, **values)
            .returning(BonusCampaign)
        )
        return result.one()

    async def update(self, campaign_id: str, values: Mapping[str, Any]) -> BonusCampaign | None:
        result = await self._session.scalars(
            update(BonusCampaign)
            .where(BonusCampaign.merchant_id == self._merchant_id, BonusCampaign.id == campaign_id)
            .values(**values)
            .returning(BonusCampaign),
            execution_options={"populate_existing": True, "synchronize_session": False},
        )
        return result.one_or_none()

    async def delete(self, campaign_id: str) -> bool:
        result = await self._session.execute(
            delete(BonusCampaign)
            .where(BonusCampaign.merchant_id == self._merchant_id, BonusCampaign.id == campaign_id)
            .returning(BonusCampaign.id),
            execution_options={"synchronize_session": False},
        )
        return result.scalar_one_or_none() is not None
