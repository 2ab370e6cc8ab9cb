"""Every SQL statement of the admin subgraph on ``audit_logs`` (kit's core inserts entries for
every subgraph), and the upkeep of the monthly partitions of the append-only logs."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditLog
from subgraphs.kit.repository import TenantRepository, mentions_any, rowcount


class AuditLogRepository(TenantRepository[AuditLog]):
    model = AuditLog

    async def entry(
        self, entry_id: str, created_at: datetime, *, actions: Collection[str] | None = None
    ) -> AuditLog | None:
        """One entry, or None when it is not this merchant's or its action is not wanted."""
        query = select(AuditLog).where(
            AuditLog.merchant_id == self._merchant_id,
            AuditLog.id == entry_id,
            # Names the monthly partition, so only one is searched.
            AuditLog.created_at == created_at,
        )
        if actions is not None:
            query = query.where(AuditLog.action.in_(list(actions)))
        result = await self._session.scalars(query)
        return result.one_or_none()

    async def entries_by_ids(self, entry_ids: Sequence[str]) -> list[AuditLog]:
        """The merchant's entries among ``entry_ids``, in no order (every monthly partition is
        searched: a refetch by ID does not know the month)."""
        return await self.get_by_ids(entry_ids)

    async def entries_mentioning(
        self,
        needles: Collection[str],
        *,
        after: tuple[datetime, str] | None = None,
        limit: int | None = None,
    ) -> list[AuditLog]:
        """Entries whose metadata quotes any needle (customer ids, email, phone, codes...),
        oldest first: all of them, or a page of ``limit`` after ``after`` ((created_at, id)).
        A scan of the merchant's audit rows: these requests are rare and the log keeps 90 days."""
        if not needles:
            return []
        query = select(AuditLog).where(
            AuditLog.merchant_id == self._merchant_id,
            mentions_any(AuditLog.metadata_, needles),
        )
        if after is not None:
            query = query.where(tuple_(AuditLog.created_at, AuditLog.id) > tuple_(*after))
        result = await self._session.scalars(
            query.order_by(AuditLog.created_at, AuditLog.id).limit(limit)
        )
        return list(result)

    async def rewrite_metadata(self, entries: Sequence[tuple[AuditLog, dict[str, object]]]) -> None:
        """The app role may insert and delete audit entries but not update them, so an entry
        is replaced by the same entry (id, time, action, actor) with scrubbed metadata. The
        insert trigger announces it again on the live admin stream."""
        if not entries:
            return
        await self._session.execute(
            delete(AuditLog).where(
                AuditLog.merchant_id == self._merchant_id,
                tuple_(AuditLog.id, AuditLog.created_at).in_(
                    [(entry.id, entry.created_at) for entry, _ in entries]
                ),
            )
        )
        await self._session.execute(
            insert(AuditLog),
            [
                {
                    "merchant_id": self._merchant_id,
                    "id": entry.id,
                    "created_at": entry.created_at,
                    "action": entry.action,
                    "actor_id": entry.actor_id,
                    "metadata_": metadata,
                }
                for entry, metadata in entries
            ],
        )

    async def delete_all(self) -> int:
        """shop/redact: the month-partitioned log has no foreign key to the merchant, so its
        rows are deleted by hand."""
        result = await self._session.execute(
            delete(AuditLog).where(AuditLog.merchant_id == self._merchant_id)
        )
        return rowcount(result)


async def maintain_log_partitions(session: AsyncSession) -> list[tuple[str, str]]:
    """Create the coming months' partitions of audit_logs and api_logs and drop those past the
    retention (db.partitions' function does the DDL)."""
    result = await session.execute(text("SELECT * FROM loyalnest_maintain_log_partitions()"))
    return [(str(action), str(name)) for action, name in result.all()]
