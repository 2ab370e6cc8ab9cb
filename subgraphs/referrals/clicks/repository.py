"""Every SQL statement on ``referral_events``, scoped to one merchant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import func, select
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

    async def click_counts(
        self, first: date, last: date
    ) -> tuple[dict[date, tuple[int, int]], int]:
        """Per UTC day from ``first`` to ``last``: (clicks, distinct visitors); and the
        distinct visitors of the whole range. One statement (ROLLUP adds the total row)."""
        day = ReferralEvent.day
        statement = (
            select(day, func.count(), func.count(func.distinct(ReferralEvent.visitor_hash)))
            .where(self._mine, ReferralEvent.kind == "click", day.between(first, last))
            .group_by(func.rollup(day))
        )
        per_day: dict[date, tuple[int, int]] = {}
        visitors = 0
        for on, clicks, unique in await self._session.execute(statement):
            if on is None:
                visitors = int(unique)
            else:
                per_day[on] = (int(clicks), int(unique))
        return per_day, visitors
