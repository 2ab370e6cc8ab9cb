"""Every SQL statement on ``referral_events``, scoped to one merchant."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert

from db.models import ReferralEvent
from subgraphs.kit.repository import TenantRepository


class ReferralEventRepository(TenantRepository[ReferralEvent]):
    model = ReferralEvent

    async def insert_click(self, values: Mapping[str, Any]) -> bool:
        """False when this visitor clicked this link already today (the daily unique index)."""
        statement = (
            pg_insert(ReferralEvent)
            .values(merchant_id=self._merchant_id, kind="click", **values)
            .on_conflict_do_nothing()
            .returning(ReferralEvent.id)
        )
        return (await self._session.execute(statement)).scalar_one_or_none() is not None
