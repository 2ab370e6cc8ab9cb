"""Every SQL statement on ``orders``, scoped to one merchant."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Text, bindparam, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert

from db.ids import new_id
from db.models import Customer, OrderFactSource
from db.models import OrderFact as OrderRow
from subgraphs.kit.driver import CompiledStatement, run, run_many
from subgraphs.kit.repository import TenantRepository

if TYPE_CHECKING:
    from subgraphs.analytics.orders.service import OrderFact

# One statement: every earn of an order the ledger holds and orders lacks becomes a fact. The
# earn's explanation carries the subtotal in shop currency it was computed on (base_amount),
# the order's currency and its lines; the order's cancellation is its ``order:<id>:cancel``
# reversal. What the ledger never knew (shipping, taxes, channel) is left at its default.
_BACKFILL = text(
    """
    INSERT INTO orders (
        merchant_id, id, shopify_order_id, customer_id, created_at, cancelled_at, currency,
        subtotal, total, presentment_currency, presentment_subtotal, presentment_total,
        channel, region, tier_id, source
    )
    SELECT e.merchant_id,
           -- a UUIDv7 of the earn's moment: its milliseconds over the first 48 bits of a
           -- random UUID, version bits set to 7
           encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
               substring(int8send(floor(extract(epoch FROM e.created_at) * 1000)::bigint) FROM 3)
               FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid::text,
           e.order_id, e.customer_id, e.created_at,
           cancel.created_at,
           coalesce(settings.config #>> '{currencies,base}', 'USD'),
           amounts.base, amounts.base,
           coalesce(e.explanation ->> 'currency', e.currency, 'USD'),
           amounts.presented, amounts.presented,
           'online', c.country_code, NULL, 'ledger'
    FROM points_transactions e
    JOIN customers c ON c.merchant_id = e.merchant_id AND c.id = e.customer_id
    LEFT JOIN program_settings settings ON settings.merchant_id = e.merchant_id
    LEFT JOIN points_transactions cancel
      ON cancel.merchant_id = e.merchant_id
     AND cancel.idempotency_key = 'order:' || e.order_id || '\\:cancel'
    CROSS JOIN LATERAL (
        SELECT coalesce((e.explanation ->> 'base_amount')::numeric, 0) AS base,
               coalesce(
                   (SELECT sum((line ->> 'amount')::numeric)
                    FROM jsonb_array_elements(coalesce(e.explanation -> 'lines', '[]')) line),
                   (e.explanation ->> 'base_amount')::numeric,
                   0
               ) AS presented
    ) amounts
    WHERE e.merchant_id = :merchant_id AND e.kind = 'earn' AND e.order_id IS NOT NULL
    ON CONFLICT (merchant_id, shopify_order_id) DO NOTHING
    """
)


UPSERT_BATCH = 1_000
_ORDER_KEY = ["merchant_id", "shopify_order_id"]
# What a webhook's payload replaces of a recorded order (``upsert(replace=True)``).
_REPLACED = (
    "created_at", "currency", "subtotal", "total", "presentment_currency",
    "presentment_subtotal", "presentment_total", "channel", "region", "discount_codes", "source",
)  # fmt: skip


def _kept_on_conflict(statement: PgInsert, *, replace: bool) -> dict[str, ColumnElement[Any]]:
    """The SET of an upsert whose order is recorded already (``upsert``'s rules)."""
    current, new = OrderRow.__table__.c, statement.excluded
    kept: dict[str, ColumnElement[Any]] = {
        "paid_at": func.coalesce(current.paid_at, new.paid_at),
        "cancelled_at": func.coalesce(current.cancelled_at, new.cancelled_at),
        "customer_id": func.coalesce(current.customer_id, new.customer_id),
        "updated_at": func.now(),
    }
    if replace:
        kept |= {name: new[name] for name in _REPLACED}
        kept["customer_id"] = func.coalesce(new.customer_id, current.customer_id)
    return kept


def _upsert_one(*, replace: bool) -> CompiledStatement:
    """One order's upsert, every value a parameter: its customer is ``customer_id``, else the
    one of ``shopify_customer_id`` (if enrolled), and its tier that customer's tier now.
    Built and compiled once: building it per order (the ``excluded`` columns, the subqueries)
    was a sixth of the worker's CPU an order (py-spy, bench/webhooks.py)."""
    table = OrderRow.__table__
    merchant = bindparam("merchant_id", type_=Text)
    by_shopify_id = (
        select(Customer.id)
        .where(
            Customer.merchant_id == merchant,
            Customer.shopify_customer_id == bindparam("shopify_customer_id", type_=Text),
        )
        .scalar_subquery()
    )
    customer = func.coalesce(bindparam("customer_id", type_=Text), by_shopify_id)
    tier = (
        select(Customer.vip_tier_id)
        .where(Customer.merchant_id == merchant, Customer.id == customer)
        .scalar_subquery()
    )
    given = [
        name for name in _ONE_ORDER_COLUMNS if name not in {"merchant_id", "customer_id", "tier_id"}
    ]
    statement = pg_insert(OrderRow).values(
        merchant_id=merchant,
        customer_id=customer,
        tier_id=tier,
        **{name: bindparam(name, type_=table.c[name].type) for name in given},
    )
    return CompiledStatement.of(
        statement.on_conflict_do_update(
            index_elements=_ORDER_KEY, set_=_kept_on_conflict(statement, replace=replace)
        ).returning(table.c.id)
    )


_ONE_ORDER_COLUMNS = (
    "merchant_id", "id", "shopify_order_id", "customer_id", "created_at", "paid_at",
    "cancelled_at", "currency", "subtotal", "total", "presentment_currency",
    "presentment_subtotal", "presentment_total", "channel", "region", "discount_codes",
    "tier_id", "source",
)  # fmt: skip
_UPSERT_ONE = {replace: _upsert_one(replace=replace) for replace in (False, True)}


class OrderFactsRepository(TenantRepository[OrderRow]):
    model = OrderRow

    def _customer_of(self, fact: OrderFact) -> Any:
        if fact.customer_id is not None or fact.shopify_customer_id is None:
            return fact.customer_id
        return (
            select(Customer.id)
            .where(
                Customer.merchant_id == self._merchant_id,
                Customer.shopify_customer_id == fact.shopify_customer_id,
            )
            .scalar_subquery()
        )

    def _tier_of(self, customer: Any) -> Any:
        """The customer's tier now: what "tier at order time" is when the order is first seen."""
        if customer is None:
            return None
        return (
            select(Customer.vip_tier_id)
            .where(Customer.merchant_id == self._merchant_id, Customer.id == customer)
            .scalar_subquery()
        )

    def _values(self, fact: OrderFact, source: OrderFactSource) -> dict[str, Any]:
        """A row of the multi-row upsert: its customer and tier as subqueries."""
        customer = self._customer_of(fact)
        return {
            **self._given_values(fact, source),
            "customer_id": customer,
            "tier_id": self._tier_of(customer),
        }

    def _given_values(self, fact: OrderFact, source: OrderFactSource) -> dict[str, Any]:
        """What a row takes from the fact itself."""
        return {
            "merchant_id": self._merchant_id,
            "id": new_id(),
            "shopify_order_id": fact.shopify_order_id,
            "created_at": fact.created_at,
            "paid_at": fact.paid_at,
            "cancelled_at": fact.cancelled_at,
            "currency": fact.currency,
            "subtotal": fact.subtotal,
            "total": fact.total,
            "presentment_currency": fact.presentment_currency,
            "presentment_subtotal": fact.presentment_subtotal,
            "presentment_total": fact.presentment_total,
            "channel": fact.channel.value,
            "region": fact.region,
            "discount_codes": list(fact.discount_codes),
            "source": source.value,
        }

    async def upsert(
        self, facts: Sequence[OrderFact], *, source: OrderFactSource, replace: bool
    ) -> int:
        """Insert the facts not recorded yet. An existing row is replaced by ``replace``
        (webhooks) except for its tier at order time, its refunds and the moments it was paid
        and cancelled (once known they stay); without ``replace`` it only gains a cancellation,
        a payment or a customer it lacked. Returns the rows written."""
        written = 0
        # Postgres takes at most 32,767 parameters in one statement, and a fact takes 19: a
        # reconciliation or a backfill of thousands of orders goes in batches.
        for first in range(0, len(facts), UPSERT_BATCH):
            written += await self._upsert_batch(
                facts[first : first + UPSERT_BATCH], source=source, replace=replace
            )
        return written

    async def upsert_from_webhooks(self, facts: Sequence[OrderFact]) -> None:
        """``upsert(facts, source=WEBHOOK, replace=True)`` for the facts of a batch of
        webhooks: the one-order statement once per fact, in one round trip. The multi-row
        statement is built and compiled anew for every number of rows (a tenth of the
        worker's CPU when batches took it)."""
        await run_many(
            self._session,
            _UPSERT_ONE[True],
            [self._one_order_values(fact, OrderFactSource.WEBHOOK) for fact in facts],
        )

    def _one_order_values(self, fact: OrderFact, source: OrderFactSource) -> dict[str, Any]:
        return {
            **self._given_values(fact, source),
            "customer_id": fact.customer_id,
            "shopify_customer_id": fact.shopify_customer_id,
        }

    async def _upsert_batch(
        self, facts: Sequence[OrderFact], *, source: OrderFactSource, replace: bool
    ) -> int:
        if len(facts) == 1:
            # One order: every webhook. Built once, run on the driver (``_UPSERT_ONE``).
            values = self._one_order_values(facts[0], source)
            return len(await run(self._session, _UPSERT_ONE[replace], values))
        rows = [self._values(fact, source) for fact in facts]
        statement = pg_insert(OrderRow).values(rows)
        result = await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=_ORDER_KEY, set_=_kept_on_conflict(statement, replace=replace)
            )
        )
        return int(getattr(result, "rowcount", 0))

    async def add_refund(
        self, shopify_order_id: str, refund_id: str, amount: Decimal
    ) -> tuple[bool, str | None]:
        """Record one refund of an order (a refund id counts once, so a redelivery changes
        nothing); (whether the order is recorded, its customer)."""
        refunds = OrderRow.refunds.op("||")(
            func.jsonb_build_object(literal(refund_id), literal(str(amount)))
        )
        total = (
            select(func.coalesce(func.sum(text("value::numeric")), 0))
            .select_from(func.jsonb_each_text(refunds.cast(JSONB)))
            .scalar_subquery()
        )
        result = await self._session.execute(
            update(OrderRow)
            .where(self._mine, OrderRow.shopify_order_id == shopify_order_id)
            .values(refunds=refunds, refunded_amount=total, updated_at=func.now())
            .returning(OrderRow.customer_id)
        )
        row = result.one_or_none()
        return (False, None) if row is None else (True, row.customer_id)

    async def backfill_from_ledger(self) -> int:
        result = await self._session.execute(_BACKFILL, {"merchant_id": self._merchant_id})
        return int(getattr(result, "rowcount", 0))
