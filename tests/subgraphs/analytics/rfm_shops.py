"""Shops with order facts for the RFM tests, and the RFM rules of the specification written
again, independently of ``analytics.rfm``: the tests compare what the SQL computed with what
these say about the same raw rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from db.models import Customer, OrderFactSource
from db.session import tenant_unit_of_work
from subgraphs.analytics.orders.repository import OrderFactsRepository
from subgraphs.analytics.orders.service import OrderFact
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, add_customer

# The specification's static thresholds: R5 <= 7 days ... R1 > 90; F1 one order ... F5 more
# than 10; M1 under half the average order value ... M5 from five times it.
RECENCY_DAYS = (7, 30, 60, 90)
FREQUENCY_ORDERS = (2, 4, 7, 11)
MONETARY_MULTIPLES = (Decimal("0.5"), Decimal(1), Decimal(2), Decimal(5))


@dataclass(frozen=True)
class RawOrder:
    customer_id: str | None
    created_at: datetime
    total: Decimal
    refunded: Decimal = Decimal(0)
    cancelled: bool = False


def recency_score(days: float, edges: Sequence[int] = RECENCY_DAYS) -> int:
    for score, edge in zip((5, 4, 3, 2), edges, strict=True):
        if days <= edge:
            return score
    return 1


def at_least_score(value: Decimal | int, edges: Sequence[Decimal | int]) -> int:
    return 1 + sum(1 for edge in edges if value >= edge)


def segment_of(r: int, f: int, m: int) -> str | None:
    if r >= 4 and f >= 4 and m >= 4:
        return "Champions"
    if r >= 3 and f >= 3:
        return "Loyal"
    if r >= 4 and f == 1:
        return "New"
    if r <= 2 and f >= 2:
        return "At-Risk"
    if r <= 2:
        return "Inactive"
    return None


def expected_rfm(
    orders: Iterable[RawOrder], now: datetime, *, time_weighted: bool = False
) -> dict[str, tuple[int, int, int, str | None]]:
    """customer id -> (R, F, M, segment), from the raw orders alone."""
    counted = [order for order in orders if not order.cancelled]
    aov = sum((o.total - o.refunded for o in counted), Decimal(0)) / len(counted)
    mine: dict[str, list[RawOrder]] = {}
    for order in counted:
        if order.customer_id is not None:
            mine.setdefault(order.customer_id, []).append(order)
    result = {}
    for customer_id, placed in mine.items():
        moments = sorted(order.created_at for order in placed)
        days = (now - moments[-1]).total_seconds() / 86400
        if time_weighted and len(moments) > 1:
            cycle = (moments[-1] - moments[0]).total_seconds() / 86400 / (len(moments) - 1)
            days = max(days - cycle, 0)
        spent = sum((order.total - order.refunded for order in placed), Decimal(0))
        r = recency_score(days)
        f = at_least_score(len(placed), FREQUENCY_ORDERS)
        m = at_least_score(spent / aov, MONETARY_MULTIPLES)
        result[customer_id] = (r, f, m, segment_of(r, f, m))
    return result


def fact(
    number: int, customer_id: str | None, at: datetime, total: str, **fields: object
) -> OrderFact:
    amount = Decimal(total)
    return OrderFact(
        shopify_order_id=str(number),
        customer_id=customer_id,
        created_at=at,
        currency="USD",
        subtotal=amount,
        total=amount,
        presentment_currency="USD",
        presentment_subtotal=amount,
        presentment_total=amount,
        **fields,  # type: ignore[arg-type]
    )


async def stored_scores(resources: Resources, merchant_id: str) -> dict[str, Any]:
    """customer id -> (R, F, M, segment) as stored, None for a customer without scores."""
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        rows = await session.execute(select(Customer.id, Customer.rfm_score, Customer.rfm_segment))
        return {
            customer_id: None
            if score is None
            else (score["recency"], score["frequency"], score["monetary"], segment)
            for customer_id, score, segment in rows
        }


async def record(resources: Resources, tenant: Tenant, facts: Sequence[OrderFact]) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await OrderFactsRepository(session, tenant.merchant_id).upsert(
            facts, source=OrderFactSource.WEBHOOK, replace=True
        )


async def shop_of(
    resources: Resources, tenant: Tenant, customers: int, now: datetime, *, first: int = 1
) -> list[str]:
    """``customers`` customers, the n-th with n orders, one every 9 days back from now, of
    $20 each: a spread of recency, frequency and spend."""
    ids = [await add_customer(resources, tenant) for _ in range(customers)]
    facts = [
        fact(
            first + index * 100 + k,
            customer_id,
            now - timedelta(days=9 * k + index),
            "20.00",
        )
        for index, customer_id in enumerate(ids)
        for k in range(index % 12 + 1)
    ]
    await record(resources, tenant, facts)
    return ids
