"""SQL of points-expiry reminders, and of the merchant lists the expiry jobs walk through.

The merchant lists read every tenant's settings, so they run in a system unit of work; the
rest is scoped to one merchant like every other repository.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import (
    Date,
    SQLColumnExpression,
    and_,
    cast,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from db.ids import new_id
from db.models import Customer, ExpiryReminder, Merchant, PointsTransaction, ProgramSettings

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"
# Values of the JSON settings document (subgraphs.points.service.program): only merchants
# with a stored document can have turned expiry or notifications on.
_EXPIRING_KINDS = ("after_earning", "inactivity")
_PROVIDERS = ("klaviyo", "postscript")


@dataclass(frozen=True, slots=True)
class DueReminder:
    customer_id: str
    expires_on: date
    points: int


@dataclass(frozen=True, slots=True)
class QueuedReminder:
    id: str
    customer_id: str
    expires_on: date
    points: int


@dataclass(frozen=True, slots=True)
class MerchantShop:
    merchant_id: str
    shop_domain: str


async def merchants_with_expiry(
    session: AsyncSession, *, after: str | None, limit: int
) -> list[str]:
    """Merchants whose points can expire, by id, one page after ``after``."""
    kind = func.jsonb_extract_path_text(ProgramSettings.config, "expiry", "kind")
    query = select(ProgramSettings.merchant_id).where(kind.in_(_EXPIRING_KINDS))
    if after is not None:
        query = query.where(ProgramSettings.merchant_id > after)
    result = await session.scalars(query.order_by(ProgramSettings.merchant_id).limit(limit))
    return list(result)


async def merchants_with_notifications(
    session: AsyncSession, *, after: str | None, limit: int
) -> list[MerchantShop]:
    """Merchants that notify customers through a provider, by id, one page after ``after``."""
    provider = func.jsonb_extract_path_text(ProgramSettings.config, "notifications")
    query = (
        select(ProgramSettings.merchant_id, Merchant.shop_domain)
        .join(Merchant, Merchant.id == ProgramSettings.merchant_id)
        .where(provider.in_(_PROVIDERS))
    )
    if after is not None:
        query = query.where(ProgramSettings.merchant_id > after)
    result = await session.execute(query.order_by(ProgramSettings.merchant_id).limit(limit))
    return [MerchantShop(row.merchant_id, row.shop_domain) for row in result]


def _utc_date(moment: SQLColumnExpression[datetime | None]) -> ColumnElement[date]:
    # Reminders are keyed by calendar day; the day of a timestamptz depends on the session's
    # time zone unless it is pinned.
    return cast(func.timezone("UTC", moment), Date)


class ReminderRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    def _not_reminded(
        self, customer_id: SQLColumnExpression[str], expires_on: SQLColumnExpression[date]
    ) -> ColumnElement[bool]:
        return ~exists().where(
            ExpiryReminder.merchant_id == self._merchant_id,
            ExpiryReminder.customer_id == customer_id,
            ExpiryReminder.expires_on == expires_on,
        )

    async def lots_due(self, start: datetime, end: datetime, *, limit: int) -> list[DueReminder]:
        """Unspent points of lots expiring in (start, end], per customer and expiry day, for
        the days not reminded yet."""
        expires_on = _utc_date(PointsTransaction.expires_at).label("expires_on")
        lots = (
            select(
                PointsTransaction.customer_id,
                expires_on,
                func.sum(PointsTransaction.remaining_points).label("points"),
            )
            .where(
                PointsTransaction.merchant_id == self._merchant_id,
                PointsTransaction.remaining_points > 0,
                PointsTransaction.expires_at > start,
                PointsTransaction.expires_at <= end,
            )
            .group_by(PointsTransaction.customer_id, expires_on)
            .subquery()
        )
        result = await self._session.execute(
            select(lots.c.customer_id, lots.c.expires_on, lots.c.points)
            .where(self._not_reminded(lots.c.customer_id, lots.c.expires_on))
            .order_by(lots.c.customer_id, lots.c.expires_on)
            .limit(limit)
        )
        return [DueReminder(row.customer_id, row.expires_on, int(row.points)) for row in result]

    async def inactivity_due(
        self, now: datetime, *, days: int, window: timedelta, limit: int
    ) -> list[DueReminder]:
        """Customers whose whole balance expires ``days`` after their last activity, within
        ``window`` from now but not yet, and not reminded of that day yet."""
        last_seen = func.coalesce(Customer.last_activity_at, Customer.created_at)
        expires_on = _utc_date(last_seen + literal(timedelta(days=days))).label("expires_on")
        cutoff = now - timedelta(days=days)
        result = await self._session.execute(
            select(Customer.id, expires_on, Customer.points_balance)
            .where(
                Customer.merchant_id == self._merchant_id,
                Customer.points_balance > 0,
                last_seen > cutoff,
                last_seen <= cutoff + window,
                self._not_reminded(Customer.id, expires_on),
            )
            .order_by(Customer.id)
            .limit(limit)
        )
        return [DueReminder(row.id, row.expires_on, int(row.points_balance)) for row in result]

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
            .returning(
                ExpiryReminder.id,
                ExpiryReminder.customer_id,
                ExpiryReminder.expires_on,
                ExpiryReminder.points,
            )
        )
        result = await self._session.execute(statement)
        return [
            QueuedReminder(row.id, row.customer_id, row.expires_on, row.points) for row in result
        ]

    async def reclaim_abandoned(
        self, *, queued_before: datetime, expiring_after: date, now: datetime, limit: int
    ) -> list[QueuedReminder]:
        """Queued reminders that a crashed run never sent, claimed for this run (their clock
        restarts, so a concurrent run does not claim them too)."""
        abandoned = (
            select(ExpiryReminder.id)
            .where(
                ExpiryReminder.merchant_id == self._merchant_id,
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
            .where(
                ExpiryReminder.merchant_id == self._merchant_id,
                ExpiryReminder.id.in_(abandoned.scalar_subquery()),
            )
            .values(updated_at=now)
            .returning(
                ExpiryReminder.id,
                ExpiryReminder.customer_id,
                ExpiryReminder.expires_on,
                ExpiryReminder.points,
            )
        )
        return [
            QueuedReminder(row.id, row.customer_id, row.expires_on, row.points) for row in result
        ]

    async def mark(
        self, reminder_id: str, *, status: str, error: str | None, now: datetime
    ) -> None:
        await self._session.execute(
            update(ExpiryReminder)
            .where(
                and_(
                    ExpiryReminder.merchant_id == self._merchant_id,
                    ExpiryReminder.id == reminder_id,
                )
            )
            .values(
                status=status,
                error=error,
                sent_at=now if status == SENT else None,
                updated_at=now,
            )
        )

    async def reminders_of(self, customer_id: str) -> list[ExpiryReminder]:
        result = await self._session.scalars(
            select(ExpiryReminder)
            .where(
                ExpiryReminder.merchant_id == self._merchant_id,
                ExpiryReminder.customer_id == customer_id,
            )
            .order_by(ExpiryReminder.expires_on)
        )
        return list(result)
