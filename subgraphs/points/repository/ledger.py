"""SQL of the points ledger and of the customer facts that move with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Customer, PointsTransaction, VipTier

# Debits take points from the lots that expire first, then the oldest: the customer keeps the
# points that would last longest. One statement: a running sum picks the lots and the amounts.
_CONSUME_OLDEST = text(
    """
    WITH lots AS (
        SELECT id, remaining_points,
               sum(remaining_points) OVER (
                   ORDER BY (id = :preferred) DESC, expires_at ASC NULLS LAST, created_at, id
               ) AS running
        FROM points_transactions
        WHERE merchant_id = :merchant_id AND customer_id = :customer_id
          AND remaining_points > 0
    ), taken AS (
        SELECT id, LEAST(remaining_points, :amount - (running - remaining_points)) AS points
        FROM lots
        WHERE running - remaining_points < :amount
    )
    UPDATE points_transactions AS lot
    SET remaining_points = lot.remaining_points - taken.points
    FROM taken
    WHERE lot.merchant_id = :merchant_id AND lot.id = taken.id
    RETURNING lot.id, taken.points
    """
)


@dataclass(frozen=True, slots=True)
class OpenLot:
    transaction_id: str
    customer_id: str
    remaining_points: int
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class CustomerChange:
    """How one ledger entry moves the customer's projection and facts."""

    points: int
    earned: int = 0
    spent: Decimal = Decimal(0)
    orders: int = 0
    first_order_at: datetime | None = None
    activity_at: datetime | None = None


class LedgerRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    async def lock_customer(self, customer_id: str) -> Customer | None:
        """The customer, row-locked: every ledger write of one customer runs one at a time, so
        balance checks and idempotency checks cannot race."""
        result = await self._session.scalars(
            select(Customer)
            .where(Customer.merchant_id == self._merchant_id, Customer.id == customer_id)
            .with_for_update(),
            execution_options={"populate_existing": True},
        )
        return result.one_or_none()

    async def transaction_by_idempotency_key(self, key: str) -> PointsTransaction | None:
        result = await self._session.scalars(
            select(PointsTransaction).where(
                PointsTransaction.merchant_id == self._merchant_id,
                PointsTransaction.idempotency_key == key,
            )
        )
        return result.one_or_none()

    async def order_transactions(self, order_id: str) -> list[PointsTransaction]:
        """The order's earn and reversals, oldest first."""
        result = await self._session.scalars(
            select(PointsTransaction)
            .where(
                PointsTransaction.merchant_id == self._merchant_id,
                PointsTransaction.order_id == order_id,
            )
            .order_by(PointsTransaction.created_at, PointsTransaction.id)
        )
        return list(result)

    async def insert_transaction(
        self,
        *,
        transaction_id: str,
        customer_id: str,
        kind: str,
        points: int,
        reason: str,
        idempotency_key: str,
        source: str,
        explanation: dict[str, Any],
        order_id: str | None = None,
        currency: str | None = None,
        expires_at: datetime | None = None,
        actor_id: str | None = None,
    ) -> PointsTransaction | None:
        """Insert a ledger row; ``None`` when its idempotency key (or the order's one earn) has
        already been used. Credits open a lot of unspent points."""
        statement = (
            pg_insert(PointsTransaction)
            .values(
                merchant_id=self._merchant_id,
                id=transaction_id,
                customer_id=customer_id,
                kind=kind,
                points=points,
                reason=reason,
                order_id=order_id,
                idempotency_key=idempotency_key,
                source=source,
                currency=currency,
                explanation=explanation,
                remaining_points=points if points > 0 else None,
                expires_at=expires_at,
                actor_id=actor_id,
            )
            .on_conflict_do_nothing()
            .returning(PointsTransaction)
        )
        result = await self._session.scalars(
            select(PointsTransaction).from_statement(statement),
            execution_options={"populate_existing": True},
        )
        return result.one_or_none()

    async def consume_oldest(
        self, customer_id: str, amount: int, *, preferred_lot: str | None = None
    ) -> dict[str, int]:
        """Take ``amount`` points from the customer's lots; lot id -> points taken."""
        if amount <= 0:
            return {}
        rows = await self._session.execute(
            _CONSUME_OLDEST,
            {
                "merchant_id": self._merchant_id,
                "customer_id": customer_id,
                "amount": amount,
                "preferred": preferred_lot or "",
            },
        )
        taken = {row.id: int(row.points) for row in rows}
        if sum(taken.values()) != amount:
            raise RuntimeError(
                f"lots of customer {customer_id} hold less than {amount}: ledger projection broken"
            )
        return taken

    async def drain_lots(self, lot_ids: Sequence[str]) -> dict[str, int]:
        """Empty the given lots; lot id -> points they held."""
        if not lot_ids:
            return {}
        before = (
            select(PointsTransaction.id, PointsTransaction.remaining_points)
            .where(
                PointsTransaction.merchant_id == self._merchant_id,
                PointsTransaction.id.in_(lot_ids),
                PointsTransaction.remaining_points > 0,
            )
            .with_for_update()
        )
        held = {row.id: int(row.remaining_points) for row in await self._session.execute(before)}
        if held:
            await self._session.execute(
                update(PointsTransaction)
                .where(
                    PointsTransaction.merchant_id == self._merchant_id,
                    PointsTransaction.id.in_(list(held)),
                )
                .values(remaining_points=0)
            )
        return held

    async def apply_to_customer(self, customer_id: str, change: CustomerChange) -> Customer:
        values: dict[str, Any] = {
            "points_balance": Customer.points_balance + change.points,
            "total_points_earned": func.greatest(Customer.total_points_earned + change.earned, 0),
        }
        if change.spent:
            values["total_spent"] = func.greatest(Customer.total_spent + change.spent, 0)
        if change.orders:
            values["orders_count"] = Customer.orders_count + change.orders
        if change.first_order_at is not None:
            values["first_order_at"] = func.coalesce(Customer.first_order_at, change.first_order_at)
        if change.activity_at is not None:
            values["last_activity_at"] = func.greatest(
                Customer.last_activity_at, change.activity_at
            )
        result = await self._session.scalars(
            select(Customer).from_statement(
                update(Customer)
                .where(Customer.merchant_id == self._merchant_id, Customer.id == customer_id)
                .values(**values)
                .returning(Customer)
            ),
            execution_options={"populate_existing": True},
        )
        updated: Customer = result.one()
        return updated

    async def set_tier(self, customer_id: str, tier_id: str | None) -> None:
        await self._session.execute(
            update(Customer)
            .where(Customer.merchant_id == self._merchant_id, Customer.id == customer_id)
            .values(vip_tier_id=tier_id)
        )

    async def tiers(self) -> list[VipTier]:
        result = await self._session.scalars(
            select(VipTier).where(VipTier.merchant_id == self._merchant_id)
        )
        return list(result)

    async def expired_lots(
        self, as_of: datetime, *, customer_id: str | None = None, limit: int | None = None
    ) -> list[OpenLot]:
        """Lots whose date has passed and still hold points, grouped by customer."""
        conditions = [
            PointsTransaction.merchant_id == self._merchant_id,
            PointsTransaction.remaining_points > 0,
            PointsTransaction.expires_at <= as_of,
        ]
        if customer_id is not None:
            conditions.append(PointsTransaction.customer_id == customer_id)
        result = await self._session.execute(
            select(
                PointsTransaction.id,
                PointsTransaction.customer_id,
                PointsTransaction.remaining_points,
                PointsTransaction.expires_at,
            )
            .where(and_(*conditions))
            .order_by(PointsTransaction.customer_id, PointsTransaction.expires_at)
            .limit(limit)
        )
        return [
            OpenLot(row.id, row.customer_id, row.remaining_points, row.expires_at) for row in result
        ]

    async def lots_expiring_between(
        self, start: datetime, end: datetime, *, customer_ids: Sequence[str] | None = None
    ) -> list[OpenLot]:
        conditions = [
            PointsTransaction.merchant_id == self._merchant_id,
            PointsTransaction.remaining_points > 0,
            PointsTransaction.expires_at > start,
            PointsTransaction.expires_at <= end,
        ]
        if customer_ids is not None:
            conditions.append(PointsTransaction.customer_id.in_(customer_ids))
        result = await self._session.execute(
            select(
                PointsTransaction.id,
                PointsTransaction.customer_id,
                PointsTransaction.remaining_points,
                PointsTransaction.expires_at,
            )
            .where(and_(*conditions))
            .order_by(PointsTransaction.customer_id, PointsTransaction.expires_at)
        )
        return [
            OpenLot(row.id, row.customer_id, row.remaining_points, row.expires_at) for row in result
        ]

    async def inactive_customers(self, inactive_since: datetime, *, limit: int) -> list[str]:
        """Customers holding points whose last activity (or signup) is older than the cutoff."""
        last_seen = func.coalesce(Customer.last_activity_at, Customer.created_at)
        result = await self._session.scalars(
            select(Customer.id)
            .where(
                Customer.merchant_id == self._merchant_id,
                Customer.points_balance > 0,
                last_seen <= inactive_since,
            )
            .order_by(Customer.id)
            .limit(limit)
        )
        return list(result)

    async def open_lot_ids(self, customer_id: str) -> list[str]:
        result = await self._session.scalars(
            select(PointsTransaction.id).where(
                PointsTransaction.merchant_id == self._merchant_id,
                PointsTransaction.customer_id == customer_id,
                PointsTransaction.remaining_points > 0,
            )
        )
        return list(result)
