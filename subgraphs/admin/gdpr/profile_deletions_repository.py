"""Every SQL statement on ``gdpr_profile_deletions``: the profiles an erasure asks the
merchant's marketing provider to delete, claimed by the worker job that asks.

Runs in a tenant unit of work (the sweeper's list in a system one); every statement names the
merchant, so a query never depends on row-level security alone to be right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import GdprProfileDeletion
from subgraphs.kit.repository import TenantRepository

UNFINISHED = ("pending", "sending")


@dataclass(frozen=True, slots=True)
class NewProfileDeletion:
    id: str
    request_id: str
    customer_id: str
    provider: str
    identifier_encrypted: str


def _free(now: datetime) -> ColumnElement[bool]:
    """Not held by a job (its claim ran out), and not waiting out a backoff."""
    return or_(
        GdprProfileDeletion.claimed_until.is_(None), GdprProfileDeletion.claimed_until <= now
    )


class GdprProfileDeletionsRepository(TenantRepository[GdprProfileDeletion]):
    model = GdprProfileDeletion

    async def insert_pending(self, deletions: Sequence[NewProfileDeletion]) -> None:
        """One per customer and provider: a customer erased twice is asked for once."""
        if not deletions:
            return
        await self._session.execute(
            pg_insert(GdprProfileDeletion)
            .values(
                [
                    {
                        "merchant_id": self._merchant_id,
                        "id": deletion.id,
                        "request_id": deletion.request_id,
                        "customer_id": deletion.customer_id,
                        "provider": deletion.provider,
                        "identifier_encrypted": deletion.identifier_encrypted,
                    }
                    for deletion in deletions
                ]
            )
            .on_conflict_do_nothing(index_elements=["merchant_id", "customer_id", "provider"])
        )

    async def unfinished_of_request(self, request_id: str) -> list[tuple[str, int]]:
        """(id, attempts) of the request's deletions not yet asked for."""
        result = await self._session.execute(
            select(GdprProfileDeletion.id, GdprProfileDeletion.attempts).where(
                GdprProfileDeletion.merchant_id == self._merchant_id,
                GdprProfileDeletion.request_id == request_id,
                GdprProfileDeletion.status.in_(UNFINISHED),
            )
        )
        return [(row.id, row.attempts) for row in result]

    async def claim(
        self, deletion_id: str, *, now: datetime, until: datetime
    ) -> GdprProfileDeletion | None:
        """Hold an unfinished deletion until ``until`` and count the attempt, in one
        statement: two jobs never both hold it, and one that died lets go when ``until``
        passes. None when it is finished, held, or waiting out a backoff."""
        statement = (
            update(GdprProfileDeletion)
            .where(
                GdprProfileDeletion.merchant_id == self._merchant_id,
                GdprProfileDeletion.id == deletion_id,
                GdprProfileDeletion.status.in_(UNFINISHED),
                _free(now),
            )
            .values(
                status="sending",
                attempts=GdprProfileDeletion.attempts + 1,
                claimed_until=until,
                updated_at=func.now(),
            )
            .returning(GdprProfileDeletion)
        )
        result = await self._session.scalars(
            select(GdprProfileDeletion).from_statement(statement),
            execution_options={"populate_existing": True},
        )
        return result.one_or_none()

    async def finish(
        self, deletion_id: str, *, status: str, now: datetime, error: str | None = None
    ) -> None:
        """Asked for, skipped or given up: the identifier goes, whichever."""
        await self._session.execute(
            update(GdprProfileDeletion)
            .where(
                GdprProfileDeletion.merchant_id == self._merchant_id,
                GdprProfileDeletion.id == deletion_id,
            )
            .values(
                status=status,
                identifier_encrypted=None,
                claimed_until=None,
                last_error=error,
                finished_at=now,
                updated_at=func.now(),
            )
        )

    async def retry_later(self, deletion_id: str, *, not_before: datetime, error: str) -> None:
        await self._session.execute(
            update(GdprProfileDeletion)
            .where(
                GdprProfileDeletion.merchant_id == self._merchant_id,
                GdprProfileDeletion.id == deletion_id,
            )
            .values(
                status="pending", claimed_until=not_before, last_error=error, updated_at=func.now()
            )
        )


async def due_profile_deletions(
    session: AsyncSession, now: datetime, limit: int
) -> list[tuple[str, str, int]]:
    """(merchant, deletion, attempts) of unfinished deletions free to send now, oldest first
    (a system unit of work, along ix_gdpr_profile_deletions_unfinished)."""
    result = await session.execute(
        select(
            GdprProfileDeletion.merchant_id, GdprProfileDeletion.id, GdprProfileDeletion.attempts
        )
        .where(GdprProfileDeletion.status.in_(UNFINISHED), _free(now))
        .order_by(GdprProfileDeletion.created_at)
        .limit(limit)
    )
    return [(row.merchant_id, row.id, row.attempts) for row in result]
