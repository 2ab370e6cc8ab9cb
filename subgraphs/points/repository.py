"""Every SQL statement of the points domain. Scoped to one merchant, which is also in every
WHERE clause so Postgres prunes to that merchant's hash partition."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Customer, PointsTransaction
from subgraphs.kit.relay import Page, PageRequest


class PointsRepository:
    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id

    async def customers_by_ids(self, customer_ids: Sequence[str]) -> list[Customer]:
        result = await self._session.scalars(
            select(Customer).where(
                Customer.merchant_id == self._merchant_id, Customer.id.in_(customer_ids)
            )
        )
        return list(result)

    async def customers_page(self, page: PageRequest) -> Page[Customer]:
        query = select(Customer).where(Customer.merchant_id == self._merchant_id)
        if page.after is not None:
            query = query.where(Customer.id > str(page.after[0]))
        rows = await self._session.scalars(query.order_by(Customer.id).limit(page.limit + 1))
        return Page.from_overfetch(list(rows), page.limit)

    async def transaction_pages(
        self, customer_ids: Sequence[str], page: PageRequest
    ) -> dict[str, Page[PointsTransaction]]:
        """Newest first, one page per customer, all in one statement."""
        conditions = [
            PointsTransaction.merchant_id == self._merchant_id,
            PointsTransaction.customer_id.in_(customer_ids),
        ]
        if page.after is not None:
            created_at, transaction_id = page.after
            conditions.append(
                tuple_(PointsTransaction.created_at, PointsTransaction.id)
                < tuple_(datetime.fromisoformat(str(created_at)), str(transaction_id))
            )
        position = (
            func.row_number()
            .over(
                partition_by=PointsTransaction.customer_id,
                order_by=(PointsTransaction.created_at.desc(), PointsTransaction.id.desc()),
            )
            .label("position")
        )
        ranked = select(PointsTransaction, position).where(and_(*conditions)).subquery()
        ledger = select(PointsTransaction).from_statement(
            select(ranked)
            .where(ranked.c.position <= page.limit + 1)
            .order_by(ranked.c.customer_id, ranked.c.position)
        )
        grouped: dict[str, list[PointsTransaction]] = {
            customer_id: [] for customer_id in customer_ids
        }
        for transaction in await self._session.scalars(ledger):
            grouped[transaction.customer_id].append(transaction)
        return {
            customer_id: Page.from_overfetch(rows, page.limit)
            for customer_id, rows in grouped.items()
        }

    async def lock_balance(self, customer_id: str) -> int | None:
        """The customer's balance, row-locked so ledger writes for one customer serialize."""
        result = await self._session.execute(
            select(Customer.points_balance)
            .where(Customer.merchant_id == self._merchant_id, Customer.id == customer_id)
            .with_for_update()
        )
        return result.scalar_one_or_none()

    async def transaction_by_idempotency_key(self, key: str) -> PointsTransaction | None:
        result = await self._session.scalars(
            select(PointsTransaction).where(
                PointsTransaction.merchant_id == self._merchant_id,
                PointsTransaction.idempotency_key == key,
            )
        )
        return result.one_or_none()

    async def insert_transaction(
        self,
        *,
        transaction_id: str,
        customer_id: str,
        kind: str,
        points: int,
        reason: str,
        idempotency_key: str,
        order_id: str | None = None,
    ) -> PointsTransaction | None:
        """Insert a ledger row; ``None`` when its idempotency key has already been used."""
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
            )
            .on_conflict_do_nothing(index_elements=["merchant_id", "idempotency_key"])
            .returning(PointsTransaction)
        )
        result = await self._session.scalars(
            select(PointsTransaction).from_statement(statement),
            execution_options={"populate_existing": True},
        )
        return result.one_or_none()

    async def apply_to_balance(self, customer_id: str, points: int) -> int:
        """Move the balance projection by ``points``; credits also count toward lifetime earned."""
        earned = points if points > 0 else 0
        result = await self._session.execute(
            update(Customer)
            .where(Customer.merchant_id == self._merchant_id, Customer.id == customer_id)
            .values(
                points_balance=Customer.points_balance + points,
                total_points_earned=Customer.total_points_earned + earned,
            )
            .returning(Customer.points_balance)
        )
        return int(result.scalar_one())

    async def insert_customer(
        self, *, customer_id: str, email_encrypted: str, email_blind_index: str
    ) -> None:
        await self._session.execute(
            insert(Customer).values(
                merchant_id=self._merchant_id,
                id=customer_id,
                email_encrypted=email_encrypted,
                email_blind_index=email_blind_index,
            )
        )

    async def customer_id_by_email_index(self, email_blind_index: str) -> str | None:
        result = await self._session.execute(
            select(Customer.id).where(
                Customer.merchant_id == self._merchant_id,
                Customer.email_blind_index == email_blind_index,
            )
        )
        return result.scalar_one_or_none()
