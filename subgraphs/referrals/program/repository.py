"""Every SQL statement on ``referral_programs``, scoped to one merchant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from db.models import ReferralProgram
from subgraphs.kit.repository import TenantRepository


class ReferralProgramRepository(TenantRepository[ReferralProgram]):
    model = ReferralProgram

    async def document(self, *, for_update: bool = False) -> tuple[dict[str, Any] | None, int]:
        """The stored document and its version; (None, 0) before the first save."""
        query = select(ReferralProgram.config, ReferralProgram.version).where(self._mine)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).one_or_none()
        return (None, 0) if row is None else (row.config, row.version)

    async def alert_webhook_encrypted(self) -> str | None:
        return await self._session.scalar(
            select(ReferralProgram.alert_webhook_encrypted).where(self._mine)
        )

    async def save_alert_webhook(self, encrypted: str | None) -> None:
        """Set (or clear) the encrypted alert webhook, creating the program row if needed."""
        statement = (
            pg_insert(ReferralProgram)
            .values(merchant_id=self._merchant_id, config={}, alert_webhook_encrypted=encrypted)
            .on_conflict_do_update(
                index_elements=["merchant_id"], set_={"alert_webhook_encrypted": encrypted}
            )
        )
        await self._session.execute(statement)

    async def save(self, config: dict[str, Any]) -> int:
        """Insert or replace the document; returns its new version."""
        statement = (
            pg_insert(ReferralProgram)
            .values(merchant_id=self._merchant_id, config=config)
            .on_conflict_do_update(
                index_elements=["merchant_id"],
                set_={"config": config, "version": ReferralProgram.version + 1},
            )
            .returning(ReferralProgram.version)
        )
        return int((await self._session.execute(statement)).scalar_one())
