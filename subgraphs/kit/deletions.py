"""The record of deletions that makes a delete safe to retry (table ``deletions``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Deletion


class Deletions:
    """The one repository of ``deletions``: which rows one merchant deleted for good, by
    entity type and id. A delete records its row in the same transaction; a retried delete
    that finds no row asks ``deleted`` and answers success instead of NOT_FOUND."""

    def __init__(self, session: AsyncSession, merchant_id: str, entity: str) -> None:
        self._session = session
        self._merchant_id = merchant_id
        self._entity = entity

    async def record(self, entity_id: str) -> None:
        await self._session.execute(
            pg_insert(Deletion)
            .values(merchant_id=self._merchant_id, entity=self._entity, entity_id=entity_id)
            .on_conflict_do_nothing()
        )

    async def deleted(self, entity_id: str) -> bool:
        found = await self._session.scalar(
            select(Deletion.entity_id).where(
                Deletion.merchant_id == self._merchant_id,
                Deletion.entity == self._entity,
                Deletion.entity_id == entity_id,
            )
        )
        return found is not None
