"""Every SQL statement on ``referral_programs``, scoped to one merchant."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from db.models import ReferralProgram
from subgraphs.kit.versioned_documents import VersionedDocumentRepository


class ReferralProgramRepository(VersionedDocumentRepository[ReferralProgram]):
    """The program document (``document`` / ``save_document``), and the alert webhook
    stored encrypted beside it."""

    model = ReferralProgram

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
