"""Long because every SQL statement on ``points_transactions`` lives here, the bulk ones too.

The ledger, its lots of unspent points, the entries many customers get at once (a data
import), and the reads that page through it or group it by order and by expiry day."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Subquery, and_, bindparam, func, inspect, select, text, update
from sqlalchemy.dialects.postgresql import JSONB

from db.models import Customer, PointsTransaction, PointsTransactionKind
from subgraphs.kit.driver import CompiledStatement, loaded, run
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import TenantRepository, any_of, utc_date
from subgraphs.points.program.repository import program_version_of

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


# The write path's two statements per entry, compiled once and run on the driver's connection
# (``kit.driver``). Issue 12: an award cost 9 statements, and building them with SQLAlchemy was
# half of its CPU; then executing the two that remained (and loading the locked customer) was
# 1.2 of its 2.8 ms.
#
# Lock the customer and find the ledger row already under the idempotency key, in one round
# trip: the row, if any, may belong to another customer (a reused key), so the join is on the
# key alone; only the customer is locked. The merchant's program version comes with them: the
# calculation's inputs are cached at a version (``ledger.calculation_inputs``). Columns are
# labelled by table (``customer_points_balance``, ``entry_id``): both tables have an ``id``.
_CUSTOMER_FIELDS = tuple(prop.key for prop in inspect(Customer).column_attrs)
_ENTRY_FIELDS = tuple(prop.key for prop in inspect(PointsTransaction).column_attrs)
_LOCK_WITH_KEY = CompiledStatement.of(
    select(
        *(getattr(Customer, key).label(f"customer_{key}") for key in _CUSTOMER_FIELDS),
        *(getattr(PointsTransaction, key).label(f"entry_{key}") for key in _ENTRY_FIELDS),
        program_version_of(bindparam("merchant_id")).label("program_version"),
    )
    .select_from(Customer)
    .outerjoin(
        PointsTransaction,
        and_(
            PointsTransaction.merchant_id == Customer.merchant_id,
            PointsTransaction.idempotency_key == bindparam("key"),
        ),
    )
    .where(
        Customer.merchant_id == bindparam("merchant_id"), Customer.id == bindparam("customer_id")
    )
    .with_for_update(of=Customer.__table__)
)
_ENTRY_ID = len(_CUSTOMER_FIELDS) + _ENTRY_FIELDS.index("id")


class Recorded(NamedTuple):
    """What ``_RECORD`` reads back: the new row's time and its customer's new projection."""

    created_at: datetime
    points_balance: int
    total_points_earned: int
    total_spent: Decimal
    orders_count: int
    first_order_at: datetime | None
    last_activity_at: datetime | None
    vip_tier_id: str | None


RECORDED_PROJECTION = Recorded._fields[1:]

# Record one entry: the ledger row (nothing when its idempotency key, or the order's one earn,
# is taken: then no other part happens either), the customer's balance projection, facts and
# VIP tier (the one the new facts qualify for, decided by the caller, who holds the lock), and
# the audit entries (the tier's only when it changed), as data-modifying CTEs of one
# statement. They see one snapshot and commit together; the balance >= 0 check applies to the
# UPDATE as before. A credit opens a lot (``remaining_points``). The casts give every parameter
# one type wherever it is used.
_RECORD = CompiledStatement.of(
    text(
        """
    WITH entry AS (
        INSERT INTO points_transactions (
            merchant_id, id, customer_id, kind, points, remaining_points, reason,
            idempotency_key, source, explanation, order_id, currency, expires_at, actor_id
        )
        VALUES (
            :merchant_id, :id, :customer_id, :kind, CAST(:points AS bigint),
            CAST(:remaining_points AS bigint), :reason, :idempotency_key, :source,
            :explanation, :order_id, :currency, CAST(:expires_at AS timestamptz), :actor_id
        )
        ON CONFLICT DO NOTHING
        RETURNING created_at
    ), moved AS (
        UPDATE customers SET
            points_balance = points_balance + CAST(:points AS bigint),
            total_points_earned = greatest(total_points_earned + CAST(:earned AS bigint), 0),
            total_spent = CASE WHEN CAST(:spent AS numeric) = 0 THEN total_spent
                               ELSE greatest(total_spent + CAST(:spent AS numeric), 0) END,
            orders_count = orders_count + CAST(:orders AS bigint),
            first_order_at = coalesce(first_order_at, CAST(:first_order_at AS timestamptz)),
            last_activity_at = greatest(last_activity_at, CAST(:activity_at AS timestamptz)),
            vip_tier_id = CAST(:tier_id AS text)
        WHERE merchant_id = :merchant_id AND id = :customer_id AND EXISTS (SELECT FROM entry)
        RETURNING points_balance, total_points_earned, total_spent, orders_count,
                  first_order_at, last_activity_at, vip_tier_id
    ), audit AS (
        INSERT INTO audit_logs (merchant_id, id, action, actor_id, metadata)
        SELECT CAST(:merchant_id AS text), CAST(:audit_id AS text), CAST(:action AS text),
               CAST(:actor_id AS text), CAST(:audit AS jsonb)
        FROM entry
        UNION ALL
        SELECT :merchant_id, :tier_audit_id, :tier_action, NULL, CAST(:tier_audit AS jsonb)
        FROM entry WHERE CAST(:tier_audit AS jsonb) IS NOT NULL
    )
    SELECT entry.created_at, moved.* FROM entry, moved
    """
    )
    .bindparams(
        bindparam("explanation", type_=JSONB),
        bindparam("audit", type_=JSONB),
        bindparam("tier_audit", type_=JSONB(none_as_null=True)),
    )
    .columns(
        PointsTransaction.__table__.c.created_at,
        *(Customer.__table__.c[name] for name in RECORDED_PROJECTION),
    )
)


# Many entries of one kind, one per customer, in one statement (a data import: one entry per
# file row): the ledger rows from parallel arrays (none where the idempotency key is taken),
# then every customer's projection moved by what was recorded for them, except for opening
# balances (customers inserted in this transaction holding the entry's points already: updating
# a row just inserted costs a new row version and a foreign key check each). A credit opens a
# lot; the caller takes a debit's points from the lots (``consume_many``) with the customers
# locked.
_RECORD_MANY = text(
    """
    WITH input AS (
        SELECT * FROM unnest(
            CAST(:ids AS text[]), CAST(:customer_ids AS text[]), CAST(:points AS bigint[]),
            CAST(:keys AS text[]), CAST(:opening AS boolean[])
        ) AS t(id, customer_id, points, idempotency_key, opening)
    ), entry AS (
        INSERT INTO points_transactions (
            merchant_id, id, customer_id, kind, points, remaining_points, reason,
            idempotency_key, source, explanation, expires_at, actor_id
        )
        SELECT :merchant_id, id, customer_id, :kind, points,
               CASE WHEN points > 0 THEN points END, :reason, idempotency_key, :source,
               :explanation, CASE WHEN points > 0 THEN CAST(:expires_at AS timestamptz) END,
               :actor_id
        FROM input
        ON CONFLICT DO NOTHING
        RETURNING id, customer_id, points
    ), moved AS (
        UPDATE customers AS customer SET
            points_balance = customer.points_balance + recorded.points,
            total_points_earned = greatest(customer.total_points_earned + recorded.points, 0)
        FROM (
            SELECT entry.customer_id, sum(entry.points) AS points
            FROM entry JOIN input USING (id) WHERE NOT input.opening GROUP BY entry.customer_id
        ) AS recorded
        WHERE customer.merchant_id = :merchant_id AND customer.id = recorded.customer_id
    )
    SELECT id, customer_id, points FROM entry
    """
).bindparams(bindparam("explanation", type_=JSONB))

# ``_CONSUME_OLDEST`` for many customers at once: each takes its amount from its own lots,
# its preferred lot first, then those expiring first, then the oldest.
_CONSUME_MANY = text(
    """
    WITH wanted AS (
        SELECT * FROM unnest(
            CAST(:customer_ids AS text[]), CAST(:amounts AS bigint[]),
            CAST(:preferred AS text[])
        ) AS t(customer_id, amount, preferred)
    ), lots AS (
        SELECT lot.id, lot.remaining_points, wanted.amount,
               sum(lot.remaining_points) OVER (
                   PARTITION BY lot.customer_id
                   ORDER BY (lot.id = wanted.preferred) DESC, lot.expires_at ASC NULLS LAST,
                            lot.created_at, lot.id
               ) AS running
        FROM points_transactions AS lot JOIN wanted USING (customer_id)
        WHERE lot.merchant_id = :merchant_id AND lot.remaining_points > 0
    ), taken AS (
        SELECT id, LEAST(remaining_points, amount - (running - remaining_points)) AS points
        FROM lots
        WHERE running - remaining_points < amount
    )
    UPDATE points_transactions AS lot
    SET remaining_points = lot.remaining_points - taken.points
    FROM taken
    WHERE lot.merchant_id = :merchant_id AND lot.id = taken.id
    RETURNING taken.points
    """
)


@dataclass(frozen=True, slots=True)
class BulkEntry:
    """One entry of ``record_many``: ``points`` signed as for any ledger row. ``opening``: the
    customer was inserted in this transaction with these points as balance and lifetime
    points (an opening balance), so the entry does not move the projection again."""

    id: str
    customer_id: str
    points: int
    idempotency_key: str
    opening: bool = False


@dataclass(frozen=True, slots=True)
class OpenLot:
    transaction_id: str
    customer_id: str
    remaining_points: int
    expires_at: datetime | None


class LedgerRepository(TenantRepository[PointsTransaction]):
    model = PointsTransaction

    async def transaction_by_idempotency_key(self, key: str) -> PointsTransaction | None:
        return await self.get_one_or_none(PointsTransaction.idempotency_key == key)

    async def order_transactions(self, order_id: str) -> list[PointsTransaction]:
        """The order's earn and reversals, oldest first."""
        return await self.get_all(
            PointsTransaction.order_id == order_id,
            order_by=(PointsTransaction.created_at, PointsTransaction.id),
        )

    async def orders_with(self, order_ids: Sequence[str], kind: PointsTransactionKind) -> set[str]:
        """Which of the orders have a ledger entry of ``kind`` (e.g. have earned)."""
        if not order_ids:
            return set()
        rows = await self._session.scalars(
            select(PointsTransaction.order_id).where(
                self._mine,
                PointsTransaction.order_id.in_(order_ids),
                PointsTransaction.kind == kind,
            )
        )
        return {order_id for order_id in rows if order_id is not None}

    async def lock_customer_with_key(
        self, customer_id: str, key: str
    ) -> tuple[Customer, PointsTransaction | None, int] | None:
        """The customer, row-locked (every ledger write of one customer runs one at a time, so
        balance and idempotency checks cannot race), the ledger row already recorded under
        ``key`` (any customer's) and the merchant's program version; None when there is no
        such customer. Both entities are as the session would have loaded them, fresh."""
        rows = await run(
            self._session,
            _LOCK_WITH_KEY,
            {"merchant_id": self._merchant_id, "customer_id": customer_id, "key": key},
        )
        if not rows:
            return None
        row = rows[0]
        customers = len(_CUSTOMER_FIELDS)
        customer = loaded(self._session, Customer, dict(zip(_CUSTOMER_FIELDS, row, strict=False)))
        existing = None
        if row[_ENTRY_ID] is not None:
            values = dict(zip(_ENTRY_FIELDS, row[customers:], strict=False))
            existing = loaded(self._session, PointsTransaction, values)
        return customer, existing, int(row[-1])

    async def record_entry(self, values: Mapping[str, Any]) -> Recorded | None:
        """Insert a ledger row, move its customer's projection and write its audit entry, in
        one statement (``_RECORD``). The customer's new projection (``RECORDED_PROJECTION``)
        with the row's ``created_at``; None when the key (or the order's one earn) was already
        used, and then nothing changed."""
        rows = await run(self._session, _RECORD, {"merchant_id": self._merchant_id, **values})
        return Recorded(*rows[0]) if rows else None

    def recorded_entry(self, row: Mapping[str, Any], created_at: datetime) -> PointsTransaction:
        """The ledger row ``record_entry`` inserted (``row``: what it was given of it), as the
        session would have loaded it."""
        return loaded(self._session, PointsTransaction, {**row, "created_at": created_at})

    async def record_many(
        self,
        entries: Sequence[BulkEntry],
        *,
        kind: PointsTransactionKind,
        reason: str,
        source: str,
        explanation: Mapping[str, Any],
        expires_at: datetime | None,
        actor_id: str | None,
    ) -> list[BulkEntry]:
        """Record one entry per customer and move their projections, in one statement
        (``_RECORD_MANY``); the entries recorded (those whose key was free). The customers of
        debits must be locked, and their lots taken with ``consume_many``."""
        if not entries:
            return []
        result = await self._session.execute(
            _RECORD_MANY,
            {
                "merchant_id": self._merchant_id,
                "ids": [entry.id for entry in entries],
                "customer_ids": [entry.customer_id for entry in entries],
                "points": [entry.points for entry in entries],
                "keys": [entry.idempotency_key for entry in entries],
                "opening": [entry.opening for entry in entries],
                "kind": kind,
                "reason": reason,
                "source": source,
                "explanation": dict(explanation),
                "expires_at": expires_at,
                "actor_id": actor_id,
            },
        )
        by_id = {entry.id: entry for entry in entries}
        return [by_id[row.id] for row in result]

    async def consume_many(self, amounts: Mapping[str, tuple[int, str | None]]) -> int:
        """Take each customer's amount from their lots (customer id -> (amount, preferred
        lot)), in one statement; the points taken in all, which must be the sum asked."""
        wanted = {customer: plan for customer, plan in amounts.items() if plan[0] > 0}
        if not wanted:
            return 0
        rows = await self._session.execute(
            _CONSUME_MANY,
            {
                "merchant_id": self._merchant_id,
                "customer_ids": list(wanted),
                "amounts": [amount for amount, _ in wanted.values()],
                "preferred": [preferred or "" for _, preferred in wanted.values()],
            },
        )
        taken = sum(int(row.points) for row in rows)
        if taken != sum(amount for amount, _ in wanted.values()):
            raise RuntimeError("lots hold less than the balances: ledger projection broken")
        return taken

    async def customers_with_entries_except(
        self, customer_ids: Sequence[str], key_prefix: str
    ) -> set[str]:
        """Those of the customers with a ledger entry whose idempotency key does not start
        with ``key_prefix`` (activity of their own, beyond one business event's entries)."""
        if not customer_ids:
            return set()
        rows = await self._session.scalars(
            select(PointsTransaction.customer_id)
            .where(
                self._mine,
                PointsTransaction.customer_id == any_of(customer_ids),
                func.starts_with(PointsTransaction.idempotency_key, key_prefix).is_not(True),
            )
            .distinct()
        )
        return set(rows)

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
                self._mine,
                PointsTransaction.id.in_(lot_ids),
                PointsTransaction.remaining_points > 0,
            )
            .with_for_update()
        )
        held = {row.id: int(row.remaining_points) for row in await self._session.execute(before)}
        if held:
            await self._session.execute(
                update(PointsTransaction)
                .where(self._mine, PointsTransaction.id.in_(list(held)))
                .values(remaining_points=0)
            )
        return held

    async def expired_lots(
        self, as_of: datetime, *, customer_id: str | None = None, limit: int | None = None
    ) -> list[OpenLot]:
        """Lots whose date has passed and still hold points, grouped by customer."""
        conditions = [PointsTransaction.remaining_points > 0, PointsTransaction.expires_at <= as_of]
        if customer_id is not None:
            conditions.append(PointsTransaction.customer_id == customer_id)
        result = await self._session.execute(
            select(
                PointsTransaction.id,
                PointsTransaction.customer_id,
                PointsTransaction.remaining_points,
                PointsTransaction.expires_at,
            )
            .where(self._mine, *conditions)
            .order_by(PointsTransaction.customer_id, PointsTransaction.expires_at)
            .limit(limit)
        )
        return [
            OpenLot(row.id, row.customer_id, row.remaining_points, row.expires_at) for row in result
        ]

    async def open_lot_ids(self, customer_id: str) -> list[str]:
        result = await self._session.scalars(
            select(PointsTransaction.id).where(
                self._mine,
                PointsTransaction.customer_id == customer_id,
                PointsTransaction.remaining_points > 0,
            )
        )
        return list(result)

    async def transaction_pages(
        self, customer_ids: Sequence[str], page: PageRequest
    ) -> dict[str, Page[PointsTransaction]]:
        """Newest first, one page per customer, all in one statement."""
        return await self.paginate_per_owner(
            "customer_id",
            customer_ids,
            page,
            keyset=(PointsTransaction.created_at, PointsTransaction.id),
        )

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
                self._mine,
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

    def unspent_by_expiry_day(self, start: datetime, end: datetime) -> Subquery:
        """(customer_id, expires_on, points): unspent points of lots expiring in (start, end],
        per customer and expiry day (UTC)."""
        expires_on = utc_date(PointsTransaction.expires_at).label("expires_on")
        return (
            select(
                PointsTransaction.customer_id,
                expires_on,
                func.sum(PointsTransaction.remaining_points).label("points"),
            )
            .where(
                self._mine,
                PointsTransaction.remaining_points > 0,
                PointsTransaction.expires_at > start,
                PointsTransaction.expires_at <= end,
            )
            .group_by(PointsTransaction.customer_id, expires_on)
            .subquery("due")
        )
