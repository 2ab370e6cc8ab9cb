"""SQL of bonus campaigns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import BonusCampaign


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
