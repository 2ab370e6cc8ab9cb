"""SQL of customers and of the reads that list them with their ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, func, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from db.models import Customer, PointsTransaction
from subgraphs.kit.pagination import Page, PageRequest


class CustomerRepository:
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

    async def customers_page(
        self, page: PageRequest, filters: Sequence[ColumnElement[bool]] = ()
    ) -> Page[Customer]:
        query = select(Customer).where(Customer.merchant_id == self._merchant_id, *filters)
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

    async def expiring_points(
        self, customer_ids: Sequence[str], until: datetime
    ) -> dict[str, list[tuple[datetime, int]]]:
        """Per customer: (expiry date, points) of open lots expiring by ``until``, soonest first."""
        result = await self._session.execute(
            select(
                PointsTransaction.customer_id,
                PointsTransaction.expires_at,
                func.sum(PointsTransaction.remaining_points),
            )
            .where(
                PointsTransaction.merchant_id == self._merchant_id,
                PointsTransaction.customer_id.in_(customer_ids),
                PointsTransaction.remaining_points > 0,
                PointsTransaction.expires_at <= until,
            )
            .group_by(PointsTransaction.customer_id, PointsTransaction.expires_at)
            .order_by(PointsTransaction.customer_id, PointsTransaction.expires_at)
        )
        found: dict[str, list[tuple[datetime, int]]] = {
            customer_id: [] for customer_id in customer_ids
        }
        for customer_id, expires_at, points in result:
            if expires_at is not None:
                found[customer_id].append((expires_at, int(points or 0)))
        return found

    async def insert_customer(
        self,
        *,
        customer_id: str,
        email_encrypted: str,
        email_blind_index: str,
        shopify_customer_id: str | None = None,
        locale: str = "en",
        country_code: str | None = None,
    ) -> None:
        await self._session.execute(
            insert(Customer).values(
                merchant_id=self._merchant_id,
                id=customer_id,
                email_encrypted=email_encrypted,
                email_blind_index=email_blind_index,
                shopify_customer_id=shopify_customer_id,
                locale=locale,
                country_code=country_code,
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


def compare(field: str, operator: str | None, value: Decimal) -> ColumnElement[bool]:
    """``field`` (points_balance or total_spent) >=, <= or = ``value``."""
    column = Customer.points_balance if field == "points_balance" else Customer.total_spent
    if operator == ">=":
        return column >= value
    if operator == "<=":
        return column <= value
    return column == value


def in_tier(tier_id: str) -> ColumnElement[bool]:
    return Customer.vip_tier_id == tier_id


def in_segment(segment: str) -> ColumnElement[bool]:
    return Customer.rfm_segment == segment


def email_index_is(blind_index: str) -> ColumnElement[bool]:
    return Customer.email_blind_index == blind_index
