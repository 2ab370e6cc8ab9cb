"""RFM on the shop the seed command makes at full size (issue 14's first "done when"): 50,000
customers and 250,000 orders from ``loyalnest seed``'s generator, then refunds, cancellations
and guest orders recorded through analytics' own order paths. Every customer's R, F, M and
segment, and the segment counts, equal what this module computes from the raw order rows in
plain Python (the rules restated from the specification, exactly: no rounded quotient); the
full pass takes as many statements as it does for a three-customer shop; an order, or the
cancellation of a customer's only order, rescored incrementally rewrites exactly one customer
row.

The shop is made once for the module (``seed_scale``: see README, "Run the tests")."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select, text

from cli.generated_shop import GeneratedShop, ShopShape, generate_shop
from db.models import Customer, OrderFact, OrderFactSource
from db.session import tenant_unit_of_work
from subgraphs.analytics.orders import service as order_facts
from subgraphs.analytics.orders.repository import OrderFactsRepository
from subgraphs.analytics.rfm import service
from subgraphs.analytics.rfm.service import SegmentRule
from subgraphs.kit.resources import Resources
from subgraphs.kit.settings import Settings
from subgraphs.kit.write_context import WriteContext
from tests.conftest import StatementCounter, SubgraphClient, Tenant, token_for
from tests.subgraphs.analytics.rfm_shops import fact, shop_of, stored_scores
from worker.analytics.webhooks import AnalyticsContext, after_order

# About a minute on two cores: run by the README's test command, skipped by `-m "not seed_scale"`.
pytestmark = pytest.mark.seed_scale

SHAPE = ShopShape(customers=50_000, orders=250_000, seed=1, as_of=datetime(2026, 11, 1, tzinfo=UTC))

# The merchant's settings, none of them the defaults, so the comparison shows they are read.
RECENCY_DAYS = (10, 30, 75, 120)
FREQUENCY_ORDERS = (2, 3, 6, 10)
MONETARY_MULTIPLES = (Decimal("0.5"), Decimal("1.25"), Decimal("2.5"), Decimal(6))
# Shopify order ids of the guest orders the test adds (the seed's run from 5,000,000,001).
GUEST_ORDERS = 90_000_000
MERCHANT_SEGMENT = SegmentRule("Lapsed big spenders", 5, recency=(1, 1), monetary=(4, 5))


@dataclass(frozen=True)
class Rule:
    name: str
    priority: int
    r: tuple[int, int] = (1, 5)
    f: tuple[int, int] = (1, 5)
    m: tuple[int, int] = (1, 5)


# The specification's segments, then the merchant's, in the order they are checked.
RULES = sorted(
    (
        Rule("Lapsed big spenders", 5, r=(1, 1), m=(4, 5)),
        Rule("Champions", 100, r=(4, 5), f=(4, 5), m=(4, 5)),
        Rule("Loyal", 200, r=(3, 5), f=(3, 5)),
        Rule("New", 300, r=(4, 5), f=(1, 1)),
        Rule("At-Risk", 400, r=(1, 2), f=(2, 5)),
        Rule("Inactive", 500, r=(1, 2)),
    ),
    key=lambda rule: (rule.priority, rule.name),
)

Scores = tuple[int, int, int, str | None]


@dataclass(frozen=True)
class Row:
    customer_id: str | None
    created_at: datetime
    total: Decimal
    refunded: Decimal
    cancelled: bool


def independent_rfm(rows: list[Row], now: datetime) -> dict[str, Scores]:
    """customer id -> (R, F, M, segment), as the specification words it: recency is the time
    since the last order, R5 up to the first bound ... R1 past the last; frequency the number
    of orders, F2 from the first bound ... F5 from the last; monetary what they spent as a
    multiple of the shop's average order value (every order, guests' too), M2 from the first
    bound ... M5 from the last. Cancelled orders do not count, refunds come off."""
    counted = [row for row in rows if not row.cancelled]
    shop_net = sum((Fraction(row.total - row.refunded) for row in counted), Fraction(0))
    aov = shop_net / len(counted)
    orders_of: dict[str, list[Row]] = {}
    for row in counted:
        if row.customer_id is not None:
            orders_of.setdefault(row.customer_id, []).append(row)
    scores: dict[str, Scores] = {}
    for customer_id, orders in orders_of.items():
        since_last = now - max(order.created_at for order in orders)
        r = 1
        for score, days in zip((5, 4, 3, 2), RECENCY_DAYS, strict=True):
            if since_last <= timedelta(days=days):
                r = score
                break
        f = 1 + sum(1 for bound in FREQUENCY_ORDERS if len(orders) >= bound)
        spent = sum((Fraction(o.total - o.refunded) for o in orders), Fraction(0))
        m = 1
        if aov > 0:
            m += sum(1 for bound in MONETARY_MULTIPLES if spent / aov >= Fraction(bound))
        segment = next(
            (
                rule.name
                for rule in RULES
                if rule.r[0] <= r <= rule.r[1]
                and rule.f[0] <= f <= rule.f[1]
                and rule.m[0] <= m <= rule.m[1]
            ),
            None,
        )
        scores[customer_id] = (r, f, m, segment)
    return scores


@dataclass(frozen=True)
class SeededShop:
    shop: GeneratedShop
    tenant: Tenant
    # When the latest order that counts is exactly R5's bound old: a tie on an edge.
    now: datetime


async def _raw_rows(resources: Resources, merchant_id: str) -> list[Row]:
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        rows = await session.execute(
            select(
                OrderFact.customer_id,
                OrderFact.created_at,
                OrderFact.total,
                OrderFact.refunded_amount,
                OrderFact.cancelled_at.is_not(None),
            )
        )
        return [Row(*row) for row in rows]


async def _plant_refunds_cancellations_and_guests(resources: Resources, merchant_id: str) -> None:
    """What the seed does not make and RFM must handle: partial and full refunds,
    cancelled orders (every order of some customers, so they have none that counts), and
    guest orders, which count in the shop's average only. Through the order facts' own
    paths: refunds as refunds/create deliveries, the rest as reconciliation records."""
    rng = random.Random(14)  # a reproducible choice
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        orders = (
            await session.execute(
                select(OrderFact).order_by(OrderFact.shopify_order_id).limit(20_000)
            )
        ).scalars()
        by_customer: dict[str, list[OrderFact]] = {}
        for order in orders:
            assert order.customer_id is not None
            by_customer.setdefault(order.customer_id, []).append(order)
        customers = sorted(by_customer)
        for number, order in enumerate(
            rng.sample([o for os in by_customer.values() for o in os], 400)
        ):
            amount = order.total if number % 4 == 0 else (order.total / 3).quantize(Decimal("0.01"))
            await order_facts.record_refund_payload(
                session,
                merchant_id,
                {
                    "id": f"refund-{number}",
                    "order_id": order.shopify_order_id,
                    "refund_line_items": [{"subtotal": str(amount)}],
                },
            )
        cancelled = [
            order for customer_id in rng.sample(customers, 60) for order in by_customer[customer_id]
        ]
        # The seed's orders have no shipping or taxes: the subtotal is the total.
        facts = [
            fact(
                int(order.shopify_order_id),
                order.customer_id,
                order.created_at,
                str(order.total),
                cancelled_at=order.created_at + timedelta(hours=2),
            )
            for order in cancelled
        ]
        guests = [
            fact(
                GUEST_ORDERS + number, None, SHAPE.as_of - timedelta(hours=7 * number + 1), "40.99"
            )
            for number in range(150)
        ]
        await OrderFactsRepository(session, merchant_id).upsert(
            [*facts, *guests], source=OrderFactSource.RECONCILIATION, replace=False
        )


def _spent_and_shop(rows: list[Row]) -> tuple[dict[str, Fraction], int, Fraction]:
    """What each customer spent, and the shop's orders and net, counting as RFM does."""
    spent: dict[str, Fraction] = {}
    counted = [row for row in rows if not row.cancelled]
    for row in counted:
        if row.customer_id is not None:
            spent[row.customer_id] = spent.get(row.customer_id, Fraction(0)) + Fraction(
                row.total - row.refunded
            )
    return spent, len(counted), sum((Fraction(r.total - r.refunded) for r in counted), Fraction(0))


TIED_MULTIPLE = Fraction(MONETARY_MULTIPLES[2])


async def _plant_a_monetary_tie(resources: Resources, merchant_id: str) -> None:
    """One more guest order, of the amount that puts a customer's spend at exactly M4's
    bound times the shop's new average order value (spent x orders = bound x net)."""
    spent, orders, net = _spent_and_shop(await _raw_rows(resources, merchant_id))

    def guest_amount(customer_spent: Fraction) -> Fraction:
        return customer_spent * (orders + 1) / TIED_MULTIPLE - net

    amount = min(
        guest_amount(value)
        for value in spent.values()
        if guest_amount(value) > 0 and (guest_amount(value) * 100).denominator == 1
    )
    price = Decimal(amount.numerator) / Decimal(amount.denominator)
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        await OrderFactsRepository(session, merchant_id).upsert(
            [fact(GUEST_ORDERS + 1000, None, SHAPE.as_of - timedelta(days=3), str(price))],
            source=OrderFactSource.RECONCILIATION,
            replace=False,
        )


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def seeded(settings: Settings, resources: Resources) -> SeededShop:
    domain = f"rfm-full-{uuid.uuid4().hex[:8]}.myshopify.com"
    shop = await generate_shop(settings, domain, SHAPE)
    await _plant_refunds_cancellations_and_guests(resources, shop.merchant_id)
    await _plant_a_monetary_tie(resources, shop.merchant_id)
    async with tenant_unit_of_work(resources.sessions, shop.merchant_id) as session:
        await service.update_rfm_thresholds(
            WriteContext(session, shop.merchant_id),
            {
                "recency_days": list(RECENCY_DAYS),
                "frequency_orders": list(FREQUENCY_ORDERS),
                "monetary_aov_multiples": [str(bound) for bound in MONETARY_MULTIPLES],
            },
        )
        await service.define_segment(session, shop.merchant_id, MERCHANT_SEGMENT)
    rows = await _raw_rows(resources, shop.merchant_id)
    latest = max(row.created_at for row in rows if row.customer_id and not row.cancelled)
    now = latest + timedelta(days=RECENCY_DAYS[0])
    return SeededShop(shop, Tenant(shop.merchant_id, domain, token_for(domain)), now)


COUNTS = "{ rfmSegmentCounts { segment customerCount } }"


async def test_the_seed_shops_scores_and_counts_equal_a_computation_from_the_raw_rows(
    resources: Resources,
    seeded: SeededShop,
    tenant: Tenant,
    analytics_client: SubgraphClient,
    count_statements: StatementCounter,
) -> None:
    merchant_id = seeded.shop.merchant_id
    assert (seeded.shop.customers, seeded.shop.orders) == (50_000, 250_000)

    count_statements.statements.clear()
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        result = await service.recompute(session, merchant_id, now=seeded.now)
    full_pass = count_statements.count
    await service.refresh_counts(resources.sessions)

    rows = await _raw_rows(resources, merchant_id)
    expected = independent_rfm(rows, seeded.now)
    stored = await stored_scores(resources, merchant_id)
    assert len(stored) == 50_000
    assert result.scored == len(expected)
    assert {c: s for c, s in stored.items() if s is not None} == expected
    # Those who never ordered, or whose every order was cancelled, have no scores.
    assert {c for c, s in stored.items() if s is None} == set(stored) - set(expected)

    # The comparison means something: every score and segment occurs; the latest buyer sits
    # on R5's bound exactly, and a customer's spend on M4's (ties); cancellations left
    # customers with no order that counts.
    for position in range(3):
        assert {s[position] for s in expected.values()} == {1, 2, 3, 4, 5}
    segments = Counter(s[3] for s in expected.values())
    assert set(segments) == {rule.name for rule in RULES} | {None}
    latest = max(row.created_at for row in rows if not row.cancelled and row.customer_id)
    assert seeded.now - latest == timedelta(days=RECENCY_DAYS[0])
    spent, orders, net = _spent_and_shop(rows)
    assert any(value * orders == TIED_MULTIPLE * net for value in spent.values())
    ordered = {row.customer_id for row in rows if row.customer_id is not None}
    assert len(ordered - set(expected)) >= 50

    body = await analytics_client.execute(COUNTS, tenant=seeded.tenant)
    counts = {row["segment"]: int(row["customerCount"]) for row in body["data"]["rfmSegmentCounts"]}
    assert counts == {rule.name: segments[rule.name] for rule in RULES}

    # One set-based pass: a three-customer shop takes the same statements.
    await shop_of(resources, tenant, 3, seeded.now)
    count_statements.statements.clear()
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        small = await service.recompute(session, tenant.merchant_id, now=seeded.now)
    assert small.scored == 3
    assert count_statements.count == full_pass


async def _row_versions(resources: Resources, merchant_id: str) -> dict[str, str]:
    """Each customer row's xmin: a row an UPDATE touched has a new one, whatever it wrote."""
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        rows = await session.execute(text("SELECT id, CAST(xmin AS text) FROM customers"))
        return {customer_id: xmin for customer_id, xmin in rows}


async def _shopify_customer_id(resources: Resources, merchant_id: str, customer_id: str) -> str:
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        found = await session.scalar(
            select(Customer.shopify_customer_id).where(Customer.id == customer_id)
        )
    assert found is not None
    return found


async def test_an_order_or_a_cancellation_on_the_seed_shop_rewrites_one_customer_row(
    resources: Resources, seeded: SeededShop
) -> None:
    merchant_id = seeded.shop.merchant_id
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        await service.recompute(session, merchant_id, now=seeded.now)  # as the nightly pass left it
    one_order = sorted(
        c for c, s in (await stored_scores(resources, merchant_id)).items() if s and s[:2] == (1, 1)
    )
    # A lapsed one-order customer orders big; another's only order is cancelled.
    buyer, canceller = one_order[0], one_order[1]
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        only_order = (
            await session.scalars(select(OrderFact).where(OrderFact.customer_id == canceller))
        ).one()
    events: list[tuple[str, dict[str, Any]]] = [
        (
            buyer,
            {
                "id": 99_000_001,
                "created_at": seeded.now.isoformat(),
                "financial_status": "paid",
                "total_price": "1500.00",
            },
        ),
        (
            canceller,
            {
                "id": only_order.shopify_order_id,
                "created_at": only_order.created_at.isoformat(),
                "cancelled_at": seeded.now.isoformat(),
                "financial_status": "voided",
                "total_price": str(only_order.total),
            },
        ),
    ]
    for customer_id, order in events:
        before = await stored_scores(resources, merchant_id)
        versions = await _row_versions(resources, merchant_id)
        payload = order | {
            "currency": "USD",
            "subtotal_price": order["total_price"],
            "customer": {"id": await _shopify_customer_id(resources, merchant_id, customer_id)},
        }
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            note = await after_order(AnalyticsContext(session, merchant_id, seeded.now), payload)
        assert note == "order fact recorded; RFM segment changed"

        after_versions = await _row_versions(resources, merchant_id)
        assert {c for c, xmin in after_versions.items() if versions[c] != xmin} == {customer_id}
        after = await stored_scores(resources, merchant_id)
        expected = independent_rfm(await _raw_rows(resources, merchant_id), seeded.now)
        assert after[customer_id] == expected.get(customer_id) != before[customer_id]
        assert {c: s for c, s in after.items() if c != customer_id} == {
            c: s for c, s in before.items() if c != customer_id
        }
    assert after[canceller] is None  # no order that counts: scores and segment emptied
