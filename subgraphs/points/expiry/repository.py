"""Every SQL statement on ``expiry_reminders``: which reminders are due (of the candidates the
ledger and the customers repositories select), queued, reclaimed after a crash, and sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Subquery, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from db.ids import new_id
from db.models import Customer, ExpiryReminder
from subgraphs.kit.repository import TenantRepository

# A customer hears about expiring points at most this often (``not_reminded``).
REMINDER_INTERVAL = timedelta(days=7)
QUEUED = "queued"
SENT = "sent"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DueReminder:
    """Points of a customer that expire on a (UTC) day, with no reminder yet."""

    customer_id: str
    expires_on: date
    points: int


@dataclass(frozen=True, slots=True)
class QueuedReminder(DueReminder):
    """A due reminder recorded as queued, under its id."""

    id: str


_QUEUED_COLUMNS = (
    ExpiryReminder.id,
    ExpiryReminder.customer_id,
    ExpiryReminder.expires_on,
    ExpiryReminder.points,
)


def _queued(rows: Sequence[Any]) -> list[QueuedReminder]:
    return [QueuedReminder(row.customer_id, row.expires_on, row.points, id=row.id) for row in rows]


class ReminderRepository(TenantRepository[ExpiryReminder]):
    model = ExpiryReminder

    def _not_reminded(
        self, customer_id: ColumnElement[str], expires_on: ColumnElement[date]
    ) -> ColumnElement[bool]:
        return ~exists().where(
            self._mine,
            ExpiryReminder.customer_id == customer_id,
            ExpiryReminder.expires_on == expires_on,
        )

    async def not_reminded(
        self, candidates: Subquery, *, limit: int, now: datetime | None = None
    ) -> list[DueReminder]:
        """The ``candidates`` (customer_id, expires_on, points) whose customer and day have no
        reminder yet, by customer and day. Customers whose data was erased (GDPR) hear nothing:
        there is no one left to write to. With ``now``, a customer hears at most once per
        ``REMINDER_INTERVAL``: only their soonest day is due, and none while a reminder sent
        (or queued) within the interval is on record; the next day waits for the next one."""
        redacted = exists().where(
            Customer.merchant_id == self._merchant_id,
            Customer.id == candidates.c.customer_id,
            Customer.redacted_at.is_not(None),
        )
        conditions = [self._not_reminded(candidates.c.customer_id, candidates.c.expires_on)]
        conditions.append(~redacted)
        if now is not None:
            recently = exists().where(
                self._mine,
                ExpiryReminder.customer_id == candidates.c.customer_id,
                ExpiryReminder.status.in_((QUEUED, SENT)),
                ExpiryReminder.created_at > now - REMINDER_INTERVAL,
            )
            conditions.append(~recently)
        soonest = func.row_number().over(
            partition_by=candidates.c.customer_id, order_by=candidates.c.expires_on
        )
        due = (
            select(
                candidates.c.customer_id,
                candidates.c.expires_on,
                candidates.c.points,
                soonest.label("rank"),
            )
            .where(*conditions)
            .subquery("due_days")
        )
        query = select(due.c.customer_id, due.c.expires_on, due.c.points)
        if now is not None:
            query = query.where(due.c.rank == 1)
        result = await self._session.execute(
            query.order_by(due.c.customer_id, due.c.expires_on).limit(limit)
        )
        return [DueReminder(row.customer_id, row.expires_on, int(row.points)) for row in result]

    async def queue(
        self, due: Sequence[DueReminder], *, channel: str, now: datetime
    ) -> list[QueuedReminder]:
        """Insert queued reminders; returns only those inserted now. The unique key makes a
        second insert for the same customer and day a no-op, whoever runs it."""
        if not due:
            return []
        statement = (
            pg_insert(ExpiryReminder)
            .values(
                [
                    {
                        "merchant_id": self._merchant_id,
                        "id": new_id(),
                        "customer_id": reminder.customer_id,
                        "expires_on": reminder.expires_on,
                        "points": reminder.points,
                        "channel": channel,
                        "status": QUEUED,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for reminder in due
                ]
            )
            .on_conflict_do_nothing(index_elements=["merchant_id", "customer_id", "expires_on"])
            .returning(*_QUEUED_COLUMNS)
        )
        return _queued((await self._session.execute(statement)).all())

    async def reclaim_abandoned(
        self, *, queued_before: datetime, expiring_after: date, now: datetime, limit: int
    ) -> list[QueuedReminder]:
        """Queued reminders that a crashed run never sent, claimed for this run (their clock
        restarts, so a concurrent run does not claim them too)."""
        abandoned = (
            select(ExpiryReminder.id)
            .where(
                self._mine,
                ExpiryReminder.status == QUEUED,
                ExpiryReminder.updated_at < queued_before,
                ExpiryReminder.expires_on > expiring_after,
            )
            .order_by(ExpiryReminder.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = await self._session.execute(
            update(ExpiryReminder)
            .where(self._mine, ExpiryReminder.id.in_(abandoned.scalar_subquery()))
            .values(updated_at=now)
            .returning(*_QUEUED_COLUMNS)
        )
        return _queued(result.all())

    async def mark(
        self, reminder_id: str, *, status: str, error: str | None, now: datetime
    ) -> None:
        sent_at = now if status == SENT else None
        await self.update_one(
            reminder_id, {"status": status, "error": error, "sent_at": sent_at, "updated_at": now}
        )
