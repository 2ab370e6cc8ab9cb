"""RFM scores and segments: on a seeded shop they equal an independent computation from the
raw order facts; a full recompute is one set-based statement whatever the shop's size; an
order rescored incrementally touches its one customer; thresholds are the merchant's
(validated, versioned, from presets), time-weighted for subscriptions; merchant-defined
segments come first; the counts and a customer's scores read through the subgraph."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest_asyncio
from sqlalchemy import select, update

from cli.generated_shop import GeneratedShop, ShopShape, generate_shop
from db.models import Customer, OrderFact, RfmScoreHistory
from db.session import tenant_unit_of_work
from subgraphs.analytics.rfm import service
from subgraphs.analytics.rfm.jobs import recompute_all
from subgraphs.kit.resources import Resources
from subgraphs.kit.settings import Settings
from subgraphs.kit.write_context import WriteContext
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer, token_for
from tests.ids import gid
from tests.subgraphs.analytics.rfm_shops import (
    RawOrder,
    expected_rfm,
    fact,
    record,
    shop_of,
    stored_scores,
)
from worker.analytics.webhooks import AnalyticsContext, after_order

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def seeded(settings: Settings) -> tuple[GeneratedShop, Tenant]:
    domain = f"rfm-{uuid.uuid4().hex[:10]}.myshopify.com"
    shape = ShopShape(customers=600, orders=3000, seed=3, as_of=AS_OF)
    shop = await generate_shop(settings, domain, shape)
    return shop, Tenant(shop.merchant_id, domain, token_for(domain))


async def _raw_orders(resources: Resources, merchant_id: str) -> list[RawOrder]:
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        rows = await session.scalars(select(OrderFact))
        return [
            RawOrder(
                row.customer_id,
                row.created_at,
                row.total,
                row.refunded_amount,
                row.cancelled_at is not None,
            )
            for row in rows
        ]


COUNTS = "{ rfmSegmentCounts { segment customerCount } }"


async def test_a_seeded_shops_scores_and_counts_equal_a_computation_from_the_raw_orders(
    resources: Resources,
    seeded: tuple[GeneratedShop, Tenant],
    analytics_client: SubgraphClient,
    other_tenant: Tenant,
) -> None:
    shop, tenant = seeded
    raw = await _raw_orders(resources, shop.merchant_id)
    # The seed wrote a fact per order, adding up to what the ledger's customers spent.
    assert len(raw) == shop.orders
    async with tenant_unit_of_work(resources.sessions, shop.merchant_id) as session:
        spent = dict((await session.execute(select(Customer.id, Customer.total_spent))).all())
    by_customer: Counter[str] = Counter()
    for order in raw:
        assert order.customer_id is not None
        by_customer[order.customer_id] += order.total  # type: ignore[assignment]
    assert {c: s for c, s in spent.items() if s} == dict(by_customer)

    totals = await recompute_all(resources, now=AS_OF)
    assert totals["failed"] == 0

    expected = expected_rfm(raw, AS_OF)
    scores = await stored_scores(resources, shop.merchant_id)
    assert {c: s for c, s in scores.items() if s is not None} == expected
    assert all(scores[c] is None for c in spent if c not in expected)  # never ordered
    segments = Counter(segment for *_, segment in expected.values() if segment is not None)
    assert len(segments) >= 4, segments  # a spread, so the comparison means something

    body = await analytics_client.execute(COUNTS, tenant=tenant)
    counts = {row["segment"]: int(row["customerCount"]) for row in body["data"]["rfmSegmentCounts"]}
    assert counts == {name: segments.get(name, 0) for name in counts}
    assert set(counts) == {"Champions", "Loyal", "New", "At-Risk", "Inactive"}
    # Another shop sees its own (empty) counts through the same view.
    theirs = await analytics_client.execute(COUNTS, tenant=other_tenant)
    assert {int(row["customerCount"]) for row in theirs["data"]["rfmSegmentCounts"]} == {0}

    # A second pass a day later writes only the customers whose scores moved.
    later = AS_OF + timedelta(days=1)
    async with tenant_unit_of_work(resources.sessions, shop.merchant_id) as session:
        result = await service.recompute(session, shop.merchant_id, now=later)
    moved = expected_rfm(raw, later)
    assert result.changed == sum(1 for c, s in moved.items() if s != expected[c])


async def test_a_full_recompute_takes_as_many_statements_for_many_customers_as_for_few(
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    await shop_of(resources, tenant, 3, NOW)
    await shop_of(resources, other_tenant, 40, NOW)
    counts = []
    for shop, size in ((tenant, 3), (other_tenant, 40)):
        count_statements.statements.clear()
        async with tenant_unit_of_work(resources.sessions, shop.merchant_id) as session:
            result = await service.recompute(session, shop.merchant_id, now=NOW)
        assert result.scored == size
        counts.append(count_statements.count)
    assert counts[0] == counts[1]


async def test_an_order_rescores_its_one_customer_and_records_the_change(
    resources: Resources, tenant: Tenant, count_statements: StatementCounter
) -> None:
    customers = await shop_of(resources, tenant, 12, NOW)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await service.recompute(session, tenant.merchant_id, now=NOW)
    before = await stored_scores(resources, tenant.merchant_id)
    buyer = customers[5]
    shopify_id = f"shop-{uuid.uuid4().hex[:8]}"
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await session.execute(
            update(Customer)
            .where(Customer.merchant_id == tenant.merchant_id, Customer.id == buyer)
            .values(shopify_customer_id=shopify_id)
        )
    payload = {
        "id": 99_001,
        "currency": "USD",
        "created_at": NOW.isoformat(),
        "financial_status": "paid",
        "subtotal_price": "900.00",
        "total_price": "900.00",
        "customer": {"id": shopify_id},
    }
    count_statements.statements.clear()
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        note = await after_order(AnalyticsContext(session, tenant.merchant_id, NOW), payload)
    assert note == "order fact recorded; RFM segment changed"
    after = await stored_scores(resources, tenant.merchant_id)
    assert [c for c in customers if after[c] != before[c]] == [buyer]
    raw = await _raw_orders(resources, tenant.merchant_id)
    assert after[buyer] == expected_rfm(raw, NOW)[buyer]
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        history = (
            await session.scalars(
                select(RfmScoreHistory.customer_id).where(RfmScoreHistory.computed_at == NOW)
            )
        ).all()
    assert history.count(buyer) == 1
    assert set(history) - {buyer} == set(customers) - {buyer}  # from the full pass only


THRESHOLDS = """{ rfmThresholds { version thresholds { recencyDays frequencyOrders
  monetaryAovMultiples timeWeighted } } rfmBenchmarks { industry thresholds { recencyDays } } }"""
UPDATE = """mutation($input: RfmThresholdsUpdateInput!) { rfmThresholdsUpdate(input: $input) {
  rfmThresholds { version thresholds { recencyDays frequencyOrders timeWeighted } }
  userErrors { field code message } } }"""


async def test_thresholds_are_the_merchants_validated_versioned_and_from_presets(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    body = (await analytics_client.execute(THRESHOLDS, tenant=tenant))["data"]
    assert body["rfmThresholds"]["version"] == 0
    assert body["rfmThresholds"]["thresholds"]["recencyDays"] == [7, 30, 60, 90]
    presets = {b["industry"]: b["thresholds"]["recencyDays"][0] for b in body["rfmBenchmarks"]}
    assert (presets["Pet Store"], presets["Electronics"]) == (14, 30)

    async def update(**changes: Any) -> dict[str, Any]:
        result = await analytics_client.execute(UPDATE, {"input": changes}, tenant=tenant)
        return result["data"]["rfmThresholdsUpdate"]  # type: ignore[no-any-return]

    saved = await update(preset="Pet Store", frequencyOrders=[2, 3, 5, 8], expectedVersion=0)
    assert saved["userErrors"] == []
    assert saved["rfmThresholds"]["version"] == 1
    assert saved["rfmThresholds"]["thresholds"]["recencyDays"] == [14, 30, 60, 90]
    assert saved["rfmThresholds"]["thresholds"]["frequencyOrders"] == [2, 3, 5, 8]
    refused = [
        await update(recencyDays=[30, 7, 60, 90]),
        await update(recencyDays=[7, 30, 60]),
        await update(preset="Bakery"),
        await update(timeWeighted=True, expectedVersion=0),
    ]
    codes = [r["userErrors"][0]["code"] for r in refused]
    assert codes == [
        "INVALID_THRESHOLDS",
        "INVALID_THRESHOLDS",
        "UNKNOWN_PRESET",
        "VERSION_CONFLICT",
    ]
    assert all(r["rfmThresholds"] is None for r in refused)

    # The saved thresholds score: an order 10 days ago is R5 under Pet Store's 14 days.
    customer = (await shop_of(resources, tenant, 1, NOW - timedelta(days=10)))[0]
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await service.recompute(session, tenant.merchant_id, now=NOW)
    assert (await stored_scores(resources, tenant.merchant_id))[customer][0] == 5


async def test_time_weighted_recency_counts_from_when_the_usual_cycle_was_due(
    resources: Resources, tenant: Tenant
) -> None:
    subscriber = await add_customer(resources, tenant)
    # Monthly boxes, the last 35 days ago: lapsed by 35 days, or 5 past the usual 30.
    await record(
        resources,
        tenant,
        [fact(500 + k, subscriber, NOW - timedelta(days=35 + 30 * k), "30.00") for k in range(4)],
    )
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await service.recompute(session, tenant.merchant_id, now=NOW)
    plain = (await stored_scores(resources, tenant.merchant_id))[subscriber]
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await service.update_rfm_thresholds(
            WriteContext(session, tenant.merchant_id), {"time_weighted": True}
        )
        await service.recompute(session, tenant.merchant_id, now=NOW)
    weighted = (await stored_scores(resources, tenant.merchant_id))[subscriber]
    raw = await _raw_orders(resources, tenant.merchant_id)
    assert plain == expected_rfm(raw, NOW)[subscriber]
    assert weighted == expected_rfm(raw, NOW, time_weighted=True)[subscriber]
    assert (plain[0], weighted[0]) == (3, 5)


CREATE_SEGMENT = """mutation($input: RfmSegmentCreateInput!) { rfmSegmentCreate(input: $input) {
  rfmSegment { id name priority monetary { min max } } userErrors { field code } } }"""
DELETE_SEGMENT = """mutation($input: RfmSegmentDeleteInput!) { rfmSegmentDelete(input: $input) {
  deletedRfmSegmentId userErrors { code } } }"""


async def test_a_merchant_defined_segment_is_checked_before_the_built_in_ones(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    customers = await shop_of(resources, tenant, 12, NOW)
    big_spenders = {"name": "Big Spenders", "priority": 10, "monetary": {"min": 5}}

    async def create(segment: dict[str, Any]) -> dict[str, Any]:
        body = await analytics_client.execute(CREATE_SEGMENT, {"input": segment}, tenant=tenant)
        return body["data"]["rfmSegmentCreate"]  # type: ignore[no-any-return]

    created = await create(big_spenders)
    assert created["userErrors"] == []
    assert created["rfmSegment"]["monetary"] == {"min": 5, "max": 5}
    assert (await create(big_spenders))["rfmSegment"]["id"] == created["rfmSegment"]["id"]
    refused = [
        await create(big_spenders | {"priority": 11}),
        await create({"name": "champions"}),
        await create({"name": "Odd", "recency": {"min": 4, "max": 2}}),
        await create({"name": "Late", "priority": 100}),
    ]
    assert [(r["userErrors"][0]["code"], r["rfmSegment"]) for r in refused] == [
        ("SEGMENT_NAME_TAKEN", None),
        ("SEGMENT_NAME_TAKEN", None),
        ("INVALID_SEGMENT", None),
        ("INVALID_SEGMENT", None),
    ]

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await service.recompute(session, tenant.merchant_id, now=NOW)
    await service.refresh_counts(resources.sessions)
    raw = await _raw_orders(resources, tenant.merchant_id)
    expected = {
        c: ("Big Spenders" if m == 5 else segment)
        for c, (_r, _f, m, segment) in expected_rfm(raw, NOW).items()
    }
    scores = await stored_scores(resources, tenant.merchant_id)
    assert {c: scores[c][3] for c in customers} == expected
    assert "Big Spenders" in expected.values()
    body = await analytics_client.execute(COUNTS, tenant=tenant)
    rows = body["data"]["rfmSegmentCounts"]
    assert rows[0] == {
        "segment": "Big Spenders",
        "customerCount": str(list(expected.values()).count("Big Spenders")),
    }

    segment_id = created["rfmSegment"]["id"]
    for deleted_id in (segment_id, None):  # deletes are idempotent
        body = await analytics_client.execute(
            DELETE_SEGMENT, {"input": {"id": segment_id}}, tenant=tenant
        )
        assert body["data"]["rfmSegmentDelete"] == {
            "deletedRfmSegmentId": deleted_id,
            "userErrors": [],
        }
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await service.recompute(session, tenant.merchant_id, now=NOW)
    scores = await stored_scores(resources, tenant.merchant_id)
    assert {c: scores[c][3] for c in customers} == {
        c: segment for c, (*_, segment) in expected_rfm(raw, NOW).items()
    }


RFM_OF = """query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Customer {
  rfm { recency frequency monetary score segment } } } }"""


async def test_customer_rfm_reads_in_one_statement_for_few_customers_or_many(
    resources: Resources,
    tenant: Tenant,
    analytics_client: SubgraphClient,
    count_statements: StatementCounter,
) -> None:
    customers = await shop_of(resources, tenant, 8, NOW)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await service.recompute(session, tenant.merchant_id, now=NOW)
    scores = await stored_scores(resources, tenant.merchant_id)
    # Warm: the first request of a shop also resolves its token (cached from then on).
    await analytics_client.execute(COUNTS, tenant=tenant)
    counts = []
    for some in (customers[:2], customers):
        reps = [{"__typename": "Customer", "id": gid("Customer", c)} for c in some]
        count_statements.statements.clear()
        body = await analytics_client.execute(RFM_OF, {"reps": reps}, tenant=tenant)
        counts.append(count_statements.count)
        got = [entity["rfm"] for entity in body["data"]["_entities"]]
        assert [(g["recency"], g["frequency"], g["monetary"], g["segment"]) for g in got] == [
            scores[c] for c in some
        ]
        assert all(
            Decimal(g["score"]) == round(Decimal(sum(scores[c][:3])) / 3, 2)
            for g, c in zip(got, some, strict=True)
        )
    assert counts == [1, 1]  # the loader's one SELECT
