"""Churn: on a shop with a planted pattern (some customers stop ordering, the others keep their
rhythm) the model trained on the shop's own history separates them — holdout AUC at least
0.75, reported by `churnModel` — and its scores rank the customers who really stopped above
those who did not; with too little history it refuses, saying why; every customer gets a
lifecycle stage."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sklearn.metrics import roc_auc_score

from db.session import tenant_unit_of_work
from subgraphs.analytics.churn.jobs import train_all
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.tiers.rules import TierRules
from subgraphs.points.tiers.service import TierDraft, create_tier
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.ids import gid
from tests.subgraphs.analytics.rfm_shops import fact, record

TRAIN = """mutation($dryRun: Boolean! = false) { churnModelTrain(input: {dryRun: $dryRun}) {
  churnModel { status reason sampleSize churnedCount auc horizonDays }
  customersScored userErrors { code message } } }"""
MODEL = "{ churnModel { status reason sampleSize churnedCount auc trainedAt } }"
CHURN = """query($representations: [_Any!]!) { _entities(representations: $representations) {
  ... on Customer { id churn { score lifecycleStage } } } }"""


async def _planted(resources: Resources, tenant: Tenant, now: datetime) -> dict[str, bool]:
    """300 customers who order every 10 to 40 days; 40 % of them stop at a random moment of
    the past year and never come back. Customer id -> stopped."""
    rng = random.Random(11)
    stopped: dict[str, bool] = {}
    facts = []
    for index in range(300):
        customer = await add_customer(resources, tenant)
        gap = rng.uniform(10, 40)
        at = now - timedelta(days=rng.uniform(250, 400))
        stops = rng.random() < 0.4
        until = now - timedelta(days=rng.uniform(95, 300)) if stops else now
        stopped[customer] = stops
        number = 0
        while number == 0 or at < until:  # every customer ordered at least once
            facts.append(fact(200_000 + index * 100 + number, customer, at, "30.00"))
            number += 1
            at += timedelta(days=gap * rng.uniform(0.8, 1.2))
    await record(resources, tenant, facts)
    return stopped


async def _data(client: SubgraphClient, query: str, tenant: Tenant, **variables: Any) -> Any:
    body = await client.execute(query, variables, tenant=tenant)
    assert "errors" not in body, body
    return body["data"]


async def _churn_of(
    client: SubgraphClient, tenant: Tenant, customer_ids: list[str]
) -> dict[str, dict[str, Any]]:
    representations = [{"__typename": "Customer", "id": gid("Customer", c)} for c in customer_ids]
    found = await _data(client, CHURN, tenant, representations=representations)
    return {
        customer_id: entity["churn"]
        for customer_id, entity in zip(customer_ids, found["_entities"], strict=True)
    }


async def test_a_planted_churn_pattern_is_learned_and_reported(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    stopped = await _planted(resources, tenant, datetime.now(UTC))

    trained = (await _data(analytics_client, TRAIN, tenant))["churnModelTrain"]

    assert trained["userErrors"] == []
    model = trained["churnModel"]
    assert model["status"] == "READY", model
    assert Decimal(model["auc"]) >= Decimal("0.75"), model
    assert model["sampleSize"] == 300
    assert model["horizonDays"] == 90
    assert 40 <= model["churnedCount"] <= 200
    assert trained["customersScored"] == 300
    reported = (await _data(analytics_client, MODEL, tenant))["churnModel"]
    assert reported["auc"] == model["auc"]
    assert reported["status"] == "READY"

    # The scores, as of now, rank who really stopped above who kept ordering.
    churn = await _churn_of(analytics_client, tenant, list(stopped))
    scores = [float(churn[c]["score"]) for c in stopped]
    assert roc_auc_score([stopped[c] for c in stopped], scores) >= 0.75
    stages = {churn[c]["lifecycleStage"] for c in stopped if stopped[c]}
    assert "CHURNED" in stages
    assert {churn[c]["lifecycleStage"] for c in stopped if not stopped[c]} <= {
        "REPEAT_BUYER",
        "CHURNED",
    }


async def test_with_too_little_history_there_is_no_model_and_the_reason_says_why(
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
    analytics_client: SubgraphClient,
) -> None:
    now = datetime.now(UTC)
    buyers = [await add_customer(resources, tenant) for _ in range(12)]
    await record(
        resources,
        tenant,
        [
            fact(300_000 + n, buyer, now - timedelta(days=120), "10.00")
            for n, buyer in enumerate(buyers)
        ],
    )
    never = (await _data(analytics_client, MODEL, other_tenant))["churnModel"]
    assert never["status"] == "NOT_TRAINED"
    # A dry run says what a training would find, and keeps nothing.
    tried = (await _data(analytics_client, TRAIN, tenant, dryRun=True))["churnModelTrain"]
    assert tried["churnModel"]["status"] == "INSUFFICIENT_HISTORY"
    assert tried["customersScored"] == 0
    assert (await _data(analytics_client, MODEL, tenant))["churnModel"]["status"] == "NOT_TRAINED"

    trained = (await _data(analytics_client, TRAIN, tenant))["churnModelTrain"]["churnModel"]

    assert trained["status"] == "INSUFFICIENT_HISTORY"
    assert trained["auc"] is None
    assert "at least 200 customers" in trained["reason"]
    assert "has 12" in trained["reason"]
    # Without a model: no score, and stages by the orders alone.
    churn = await _churn_of(analytics_client, tenant, buyers[:1])
    assert churn[buyers[0]] == {"score": None, "lifecycleStage": "ONE_TIME_BUYER"}


async def test_every_customer_gets_a_lifecycle_stage(
    resources: Resources, tenant: Tenant, analytics_client: SubgraphClient
) -> None:
    now = datetime.now(UTC)
    lead = await add_customer(resources, tenant)
    once = await add_customer(resources, tenant)
    twice = await add_customer(resources, tenant)
    gone = await add_customer(resources, tenant)
    vip = await add_customer(resources, tenant, points=500)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await create_tier(
            WriteContext(session, tenant.merchant_id),
            TierDraft(names=[("en", "Gold")], rank=1, rules=TierRules(min_points_earned=300)),
            idempotency_key="churn:tier",
        )
    day = timedelta(days=1)
    await record(
        resources,
        tenant,
        [
            fact(400_001, once, now - 10 * day, "20.00"),
            fact(400_002, twice, now - 40 * day, "20.00"),
            fact(400_003, twice, now - 5 * day, "20.00"),
            fact(400_004, gone, now - 400 * day, "20.00"),
            fact(400_005, gone, now - 300 * day, "20.00"),
            fact(400_006, vip, now - 3 * day, "20.00"),
            # A cancelled order makes no buyer.
            fact(400_007, lead, now - 3 * day, "20.00", cancelled_at=now - 2 * day),
        ],
    )

    totals = await train_all(resources.sessions, now=now)

    assert totals["failed"] == 0
    churn = await _churn_of(analytics_client, tenant, [lead, once, twice, gone, vip])
    assert {c: found["lifecycleStage"] for c, found in churn.items()} == {
        lead: "NEW_LEAD",
        once: "ONE_TIME_BUYER",
        twice: "REPEAT_BUYER",
        gone: "CHURNED",
        vip: "VIP",
    }


async def test_scoring_costs_the_same_statements_for_many_customers_as_for_few(
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
    analytics_client: SubgraphClient,
    count_statements: StatementCounter,
) -> None:
    now = datetime.now(UTC)
    for shop, customers in ((tenant, 30), (other_tenant, 3)):
        ids = [await add_customer(resources, shop) for _ in range(customers)]
        await record(
            resources,
            shop,
            [fact(500_000 + n, c, now - timedelta(days=n), "15.00") for n, c in enumerate(ids)],
        )
    costs = []
    for shop in (tenant, other_tenant):
        before = count_statements.count
        await _data(analytics_client, TRAIN, shop)
        costs.append(count_statements.count - before)
    assert costs[0] == costs[1], costs
