"""SQL of the program settings document."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ProgramSettings


class ProgramRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    async def config(self) -> dict[str, Any] | None:
        result = await self._session.execute(
            select(ProgramSettings.config).where(ProgramSettings.merchant_id == self._merchant_id)
        )
        return result.scalar_one_or_none()

    async def config_and_version(self) -> tuple[dict[str, Any] | None, int]:
        """The document and its version; version 0 before the merchant saved any settings."""
        result = await self._session.execute(
            select(ProgramSettings.config, ProgramSettings.version).where(
                ProgramSettings.merchant_id == self._merchant_id
            )
        )
        row = result.one_or_none()
        return (None, 0) if row is None else (row.config, row.version)

    async def config_for_update(self) -> tuple[dict[str, Any] | None, int | None]:
        result = await self._session.execute(
            select(ProgramSettings.config, ProgramSettings.version)
            .where(ProgramSettings.merchant_id == self._merchant_id)
            .with_for_update()
        )
        row = result.one_or_none()
        return (None, None) if row is None else (row.config, row.version)

    async def save(self, config: dict[str, Any]) -> int:
        """Insert or replace the document; returns its new version."""
        insert = pg_insert(ProgramSettings).values(merchant_id=self._merchant_id, config=config)
        statement = insert.on_conflict_do_update(
            index_elements=[ProgramSettings.merchant_id],
            set_={"config": config, "version": ProgramSettings.version + 1},
        ).returning(ProgramSettings.version)
        return int((await self._session.execute(statement)).scalar_one())

    async def notification_api_key(self) -> str | None:
        result = await self._session.execute(
            select(ProgramSettings.notification_api_key_encrypted).where(
                ProgramSettings.merchant_id == self._merchant_id
            )
        )
        return result.scalar_one_or_none()
