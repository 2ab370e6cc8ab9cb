"""Every SQL statement of the points subgraph on ``customers``: the customers themselves, the
balance projection and facts the ledger moves, the tier each one holds, and the Shopify
account each one is tied to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Subquery, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.elements import ColumnElement

from db.models import Customer
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import (
    Comparison,
    Keyset,
    TenantRepository,
    any_of,
    keyset_position,
    rowcount,
    utc_date,
)
from subgraphs.points.tiers.rules import TierFacts

_FACT_COLUMNS = (
    Customer.id,
    Customer.total_points_earned,
    Customer.total_spent,
    Customer.rfm_score,
    Customer.vip_tier_id,
)


# The orders of the customers list, by sort key: each a keyset ending in the id (ties broken
# by id). Only ID walks an index (the primary key); the others sort the merchant's partition.
CUSTOMER_SORT_KEYS: Mapping[str, Keyset] = {
    "ID": (Customer.id,),
    "CREATED_AT": (Customer.created_at, Customer.id),
    "POINTS_BALANCE": (Customer.points_balance, Customer.id),
}


def customer_position(row: Customer, sort_key: str) -> tuple[Any, ...]:
    """A customer's cursor position in the list ordered by ``sort_key``, led by the key."""
    return keyset_position(CUSTOMER_SORT_KEYS[sort_key], row, tag=sort_key)


@dataclass(frozen=True, slots=True)
class CustomerChange:
    """How one ledger entry moves the customer's facts besides the balance (the entry's own
    points move that, in the ledger's one write statement)."""

    earned: int = 0
    spent: Decimal = Decimal(0)
    orders: int = 0
    first_order_at: datetime | None = None
    activity_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CustomerTierFacts:
    """What the tier rules read of one customer, and the tier they hold now."""

    customer_id: str
    tier_id: str | None
    facts: TierFacts

    @classmethod
    def of(cls, row: Any) -> CustomerTierFacts:
        facts = TierFacts.of(row.total_points_earned, row.total_spent, row.rfm_score)
        return cls(row.id, row.vip_tier_id, facts)


def _last_seen() -> ColumnElement[datetime]:
    return func.coalesce(Customer.last_activity_at, Customer.created_at)


class CustomerRepository(TenantRepository[Customer]):
    model = Customer

    # --- reading customers -----------------------------------------------------------------

    async def customers_by_ids(self, customer_ids: Sequence[str]) -> list[Customer]:
        return await self.get_all(Customer.id.in_(customer_ids))

    async def customers_page(
        self,
        page: PageRequest,
        filters: Sequence[Comparison] = (),
        *,
        sort_key: str = "ID",
    ) -> Page[Customer]:
        """Ascending by ``sort_key`` (``CUSTOMER_SORT_KEYS``), whose name leads every cursor.
        The rows are read-only records with the model's attribute names, not ORM entities: a
        list page is only read, and building entities was most of its cost per row. The
        most-read list of the API: read on the driver's connection (``read_page``)."""
        records: Page[Customer] = await self.read_page(
            page, filters, keyset=CUSTOMER_SORT_KEYS[sort_key], tag=sort_key
        )
        return records

    async def ids_after(self, after: str | None, limit: int) -> list[str]:
        """The next ``limit`` customer ids in id order (the primary key's): a walk over every
        customer of the merchant, one page at a time."""
        query = select(Customer.id).where(self._mine)
        if after is not None:
            query = query.where(Customer.id > after)
        return list(await self._session.scalars(query.order_by(Customer.id).limit(limit)))

    async def by_shopify_id(self, shopify_customer_id: str) -> Customer | None:
        return await self.get_one_or_none(Customer.shopify_customer_id == shopify_customer_id)

    async def by_email_index(self, email_blind_index: str) -> Customer | None:
        return await self.get_one_or_none(Customer.email_blind_index == email_blind_index)

    async def ids_by_email_indexes(self, blind_indexes: Sequence[str]) -> dict[str, str]:
        """Blind index -> customer id, for those of ``blind_indexes`` the merchant has (one
        statement however many: a data import matches its whole file at once)."""
        if not blind_indexes:
            return {}
        result = await self._session.execute(
            select(Customer.email_blind_index, Customer.id).where(
                self._mine, Customer.email_blind_index == any_of(blind_indexes)
            )
        )
        return {index: customer_id for index, customer_id in result}

    async def email_indexes_by_shopify_ids(self, shopify_ids: Sequence[str]) -> dict[str, str]:
        """Shopify customer id -> the blind index of the email of the customer holding it."""
        if not shopify_ids:
            return {}
        result = await self._session.execute(
            select(Customer.shopify_customer_id, Customer.email_blind_index).where(
                self._mine, Customer.shopify_customer_id == any_of(shopify_ids)
            )
        )
        return {shopify_id: index for shopify_id, index in result if shopify_id}

    async def lock_balances(self, customer_ids: Sequence[str]) -> dict[str, int]:
        """Row-lock the customers (as every ledger writer does) and read their balances."""
        if not customer_ids:
            return {}
        result = await self._session.execute(
            select(Customer.id, Customer.points_balance)
            .where(self._mine, Customer.id == any_of(customer_ids))
            .order_by(Customer.id)
            .with_for_update()
        )
        return {customer_id: int(balance) for customer_id, balance in result}

    async def delete_without_orders(self, customer_ids: Sequence[str]) -> int:
        """Delete those of the customers who have no orders; how many were deleted. Their
        ledger rows go with them (the foreign keys cascade)."""
        if not customer_ids:
            return 0
        result = await self._session.execute(
            delete(Customer)
            .where(
                self._mine,
                Customer.id == any_of(customer_ids),
                Customer.orders_count == 0,
                Customer.total_spent == 0,
            )
            .returning(Customer.id),
            execution_options={"synchronize_session": False},
        )
        return len(result.all())

    # --- enrolment and Shopify accounts ----------------------------------------------------

    async def claim(self, customer_id: str, shopify_customer_id: str) -> bool:
        """Attach a Shopify account to a customer known so far only by email (guest orders).
        False when the customer already belongs to another Shopify account."""
        claimed = await self.update_one(
            customer_id,
            {"shopify_customer_id": shopify_customer_id},
            Customer.shopify_customer_id.is_(None),
        )
        return claimed is not None

    async def accounts_matching(
        self, shopify_customer_ids: Sequence[str], email_blind_indexes: Sequence[str]
    ) -> list[tuple[str, str | None, str]]:
        """(id, Shopify id, email blind index) of every customer holding one of the Shopify
        ids or emails: one statement for a batch being enrolled."""
        result = await self._session.execute(
            select(Customer.id, Customer.shopify_customer_id, Customer.email_blind_index).where(
                self._mine,
                Customer.shopify_customer_id.in_(shopify_customer_ids)
                | Customer.email_blind_index.in_(email_blind_indexes),
            )
        )
        return [(row.id, row.shopify_customer_id, row.email_blind_index) for row in result]

    async def insert_many_new(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert the customers no unique key (email, Shopify id) holds yet, in one statement;
        returns how many were inserted."""
        if not rows:
            return 0
        statement = (
            pg_insert(Customer)
            .values([{"merchant_id": self._merchant_id, **row} for row in rows])
            .on_conflict_do_nothing()
        )
        return rowcount(await self._session.execute(statement))

    async def update_profile(
        self,
        customer_id: str,
        *,
        email_encrypted: str,
        email_blind_index: str,
        phone_encrypted: str | None,
        locale: str,
        country_code: str | None,
    ) -> None:
        await self.update_one(
            customer_id,
            {
                "email_encrypted": email_encrypted,
                "email_blind_index": email_blind_index,
                "phone_encrypted": phone_encrypted,
                "locale": locale,
                "country_code": country_code,
            },
        )

    # --- the ledger's projection -----------------------------------------------------------

    async def lock(self, customer_id: str) -> Customer | None:
        """The customer, row-locked: every ledger write of one customer runs one at a time, so
        balance checks and idempotency checks cannot race."""
        return await self.get_one_or_none(Customer.id == customer_id, for_update=True)

    async def inactive_with_points(self, inactive_since: datetime, *, limit: int) -> list[str]:
        """Customers holding points whose last activity (or signup) is older than the cutoff."""
        result = await self._session.scalars(
            select(Customer.id)
            .where(self._mine, Customer.points_balance > 0, _last_seen() <= inactive_since)
            .order_by(Customer.id)
            .limit(limit)
        )
        return list(result)

    def balances_expiring_after_inactivity(
        self, now: datetime, *, days: int, window: timedelta
    ) -> Subquery:
        """(customer_id, expires_on, points): customers whose whole balance expires ``days``
        after their last activity, within ``window`` from now but not yet."""
        cutoff = now - timedelta(days=days)
        expires_on = utc_date(_last_seen() + literal(timedelta(days=days)))
        return (
            select(
                Customer.id.label("customer_id"),
                expires_on.label("expires_on"),
                Customer.points_balance.label("points"),
            )
            .where(
                self._mine,
                Customer.points_balance > 0,
                _last_seen() > cutoff,
                _last_seen() <= cutoff + window,
            )
            .subquery("due")
        )

    # --- tiers -----------------------------------------------------------------------------

    async def set_tier(self, customer_id: str, tier_id: str | None) -> None:
        await self.update_one(customer_id, {"vip_tier_id": tier_id})

    async def assign_tiers(self, tier_by_customer: Mapping[str, str | None]) -> None:
        """Set each customer's tier: one statement per target tier, not per customer."""
        by_tier: dict[str | None, list[str]] = {}
        for customer_id, tier_id in tier_by_customer.items():
            by_tier.setdefault(tier_id, []).append(customer_id)
        for tier_id, customer_ids in by_tier.items():
            await self._session.execute(
                update(Customer)
                .where(self._mine, Customer.id.in_(customer_ids))
                .values(vip_tier_id=tier_id),
                execution_options={"synchronize_session": False},
            )

    async def tier_facts_after(
        self, after: str | None, limit: int, *, lock: bool = False
    ) -> list[CustomerTierFacts]:
        """The next ``limit`` customers in id order. ``lock`` holds them until the transaction
        ends, so a concurrent ledger write waits and then reassigns under the new tiers."""
        query = select(*_FACT_COLUMNS).where(self._mine)
        if after is not None:
            query = query.where(Customer.id > after)
        query = query.order_by(Customer.id).limit(limit)
        if lock:
            # NO KEY UPDATE: blocks ledger writers (FOR UPDATE) but not inserts that only
            # reference the customer (ledger rows, redemptions).
            query = query.with_for_update(key_share=True)
        return [CustomerTierFacts.of(row) for row in await self._session.execute(query)]

    async def tier_facts_by_ids(self, customer_ids: Sequence[str]) -> list[CustomerTierFacts]:
        result = await self._session.execute(
            select(*_FACT_COLUMNS).where(self._mine, Customer.id.in_(customer_ids))
        )
        return [CustomerTierFacts.of(row) for row in result]


# The filters of a customer search, on the table's columns (a template compares them with
# parameters: kit.repository.read_page).
_COLUMNS = Customer.__table__.c


def compare(field: str, operator: Literal["<=", ">="] | None, value: Decimal) -> Comparison:
    """``field`` (points_balance or total_spent) >=, <= or = ``value``."""
    column = _COLUMNS.points_balance if field == "points_balance" else _COLUMNS.total_spent
    return Comparison(column, operator or "=", value)


def in_tier(tier_id: str) -> Comparison:
    return Comparison(_COLUMNS.vip_tier_id, "=", tier_id)


def in_segment(segment: str) -> Comparison:
    return Comparison(_COLUMNS.rfm_segment, "=", segment)


def email_index_is(blind_index: str) -> Comparison:
    return Comparison(_COLUMNS.email_blind_index, "=", blind_index)
