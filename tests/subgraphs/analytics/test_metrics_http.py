"""loyaltyMetrics over HTTP: the numbers are the ledger's, and a ledger write shows at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update

from db.models import Customer, PointsTransaction, PointsTransactionKind, RewardKind
from db.session import tenant_unit_of_work
from subgraphs.analytics import service
from subgraphs.analytics.rfm.jobs import recompute_all
from subgraphs.analytics.service import LoyaltyMetricsSnapshot
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.rewards.redemption import RedeemCommand, redeem_reward
from subgraphs.points.rewards.service import RewardTerms, create_reward
from subgraphs.points.shopify import ShopifyConnector
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.ids import gid
from tests.subgraphs.analytics.rfm_shops import fact, record

METRICS = """
query Metrics($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Merchant { id loyaltyMetrics { membersCount pointsIssued pointsRedeemed } }
  }
}
"""

EARN = """
mutation Earn($input: PointsAdjustInput!) {
  pointsAdjust(input: $input) { userErrors { code } }
}
"""


def merchant_refs(*merchant_ids: str) -> dict[str, Any]:
    return {
        "representations": [
            {"__typename": "Merchant", "id": gid("Merchant", mid)} for mid in merchant_ids
        ]
    }


async def metrics(client: SubgraphClient, tenant: Tenant) -> dict[str, int]:
    result = await client.execute(METRICS, merchant_refs(tenant.merchant_id), tenant=tenant)
    assert "errors" not in result, result
    found: dict[str, str] = result["data"]["_entities"][0]["loyaltyMetrics"]
    # Lifetime sums are UnsignedInt64: decimal strings on the wire, exact at any size.
    assert all(isinstance(value, str) and value.isdigit() for value in found.values()), found
    return {name: int(value) for name, value in found.items()}


async def ledger_metrics(resources: Resources, tenant: Tenant) -> dict[str, int]:
    """The same numbers, read straight from the tables."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        members = await session.scalar(select(func.count()).select_from(Customer))
        issued = await session.scalar(
            select(func.coalesce(func.sum(PointsTransaction.points), 0)).where(
                PointsTransaction.points > 0
            )
        )
        redeemed = await session.scalar(
            select(func.coalesce(-func.sum(PointsTransaction.points), 0)).where(
                PointsTransaction.kind == PointsTransactionKind.REDEEM
            )
        )
    return {
        "membersCount": int(members or 0),
        "pointsIssued": int(issued or 0),
        "pointsRedeemed": int(redeemed or 0),
    }


async def redeem(resources: Resources, tenant: Tenant, customer_id: str, points: int) -> None:
    """A redemption as the ledger records one: a debit row and the balance, together."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        session.add(
            PointsTransaction(
                merchant_id=tenant.merchant_id,
                id=str(uuid.uuid4()),
                customer_id=customer_id,
                kind=PointsTransactionKind.REDEEM,
                points=-points,
                reason="reward",
                idempotency_key=f"redeem:{uuid.uuid4()}",
            )
        )
        await session.execute(
            update(Customer)
            .where(Customer.merchant_id == tenant.merchant_id, Customer.id == customer_id)
            .values(points_balance=Customer.points_balance - points)
        )


async def earn(client: SubgraphClient, tenant: Tenant, customer_id: str, points: int) -> None:
    result = await client.execute(
        EARN,
        {
            "input": {
                "customerId": gid("Customer", customer_id),
                "points": points,
                "reason": "order",
                "idempotencyKey": f"order:{uuid.uuid4()}",
            }
        },
        tenant=tenant,
    )
    assert result["data"]["pointsAdjust"]["userErrors"] == []


async def test_metrics_are_what_the_ledger_holds(
    analytics_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    awards = [120, 35, 0, 800]
    customers = [await add_customer(resources, tenant, points=p) for p in awards]
    await redeem(resources, tenant, customers[3], 300)

    found = await metrics(analytics_client, tenant)

    assert found == await ledger_metrics(resources, tenant)
    assert found == {
        "membersCount": len(awards),
        "pointsIssued": sum(awards),
        "pointsRedeemed": 300,
    }


async def test_lifetime_sums_past_32_bits_reach_the_client_exactly(
    analytics_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    # A large shop's lifetime issuance passes 2^31 long before any one balance does: three
    # customers holding a billion points each (each balance fits a 32-bit column).
    customers = [await add_customer(resources, tenant, points=0) for _ in range(3)]
    per_customer, per_row = 1_000_000_000, 1_000_000
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        for customer_id in customers:
            await session.execute(
                insert(PointsTransaction),
                [
                    {
                        "merchant_id": tenant.merchant_id,
                        "id": str(uuid.uuid4()),
                        "customer_id": customer_id,
                        "kind": PointsTransactionKind.ADJUST,
                        "points": per_row,
                        "remaining_points": per_row,
                        "reason": "migrated balance",
                        "idempotency_key": f"bulk:{uuid.uuid4()}",
                    }
                    for _ in range(per_customer // per_row)
                ],
            )
            await session.execute(
                update(Customer)
                .where(Customer.merchant_id == tenant.merchant_id, Customer.id == customer_id)
                .values(points_balance=per_customer, total_points_earned=per_customer)
            )
    await resources.cache.invalidate_tenant(tenant.merchant_id)

    result = await analytics_client.execute(
        METRICS, merchant_refs(tenant.merchant_id), tenant=tenant
    )

    assert "errors" not in result, result
    assert result["data"]["_entities"][0]["loyaltyMetrics"] == {
        "membersCount": "3",
        "pointsIssued": str(3 * per_customer),  # 3,000,000,000 > 2^31 - 1
        "pointsRedeemed": "0",
    }
    assert 3 * per_customer > 2**31


async def test_a_new_merchant_has_zero_metrics(
    analytics_client: SubgraphClient, tenant: Tenant
) -> None:
    found = await metrics(analytics_client, tenant)

    assert found == {"membersCount": 0, "pointsIssued": 0, "pointsRedeemed": 0}


async def test_points_earned_show_in_the_next_read(
    analytics_client: SubgraphClient,
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
) -> None:
    customer_id = await add_customer(resources, tenant, points=50)
    before = await metrics(analytics_client, tenant)

    await earn(points_client, tenant, customer_id, 70)
    after = await metrics(analytics_client, tenant)

    assert after["pointsIssued"] == before["pointsIssued"] + 70
    assert after == await ledger_metrics(resources, tenant)


async def test_a_repeated_read_is_served_without_querying_postgres(
    analytics_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    await add_customer(resources, tenant, points=10)
    first = await metrics(analytics_client, tenant)
    count_statements.statements.clear()

    second = await metrics(analytics_client, tenant)

    assert second == first
    assert count_statements.count == 0, count_statements.statements


async def test_one_merchants_write_does_not_change_another_merchants_metrics(
    analytics_client: SubgraphClient,
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    ours = await add_customer(resources, tenant, points=5)
    await add_customer(resources, other_tenant, points=9)
    theirs_before = await metrics(analytics_client, other_tenant)

    await earn(points_client, tenant, ours, 40)

    assert await metrics(analytics_client, other_tenant) == theirs_before
    assert (await metrics(analytics_client, tenant))["pointsIssued"] == 45


async def test_another_merchants_metrics_are_null(
    analytics_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    await add_customer(resources, other_tenant, points=999)

    result = await analytics_client.execute(
        METRICS, merchant_refs(other_tenant.merchant_id, tenant.merchant_id), tenant=tenant
    )

    entities = result["data"]["_entities"]
    assert entities[0] is None
    assert entities[1]["loyaltyMetrics"]["pointsIssued"] == "0"


async def test_metrics_without_a_token_are_unauthenticated(
    analytics_client: SubgraphClient, tenant: Tenant
) -> None:
    result = await analytics_client.execute(METRICS, merchant_refs(tenant.merchant_id))

    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]
    assert result["data"] is None or result["data"]["_entities"] in ([None], None)


async def test_totals_read_before_a_concurrent_write_are_not_served_after_it(
    analytics_client: SubgraphClient,
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
) -> None:
    customer_id = await add_customer(resources, tenant, points=100)

    async def read_then_a_write_commits() -> LoyaltyMetricsSnapshot:
        # A metrics read as the loader runs it, with a pointsAdjust committing before it is cached.
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            read_before_write = await service.fresh_loyalty_metrics(session, tenant.merchant_id)
        await earn(points_client, tenant, customer_id, 50)
        return read_before_write

    await service.loyalty_metrics(resources.cache, tenant.merchant_id, read_then_a_write_commits)

    assert await metrics(analytics_client, tenant) == await ledger_metrics(resources, tenant)


async def test_metrics_count_rewards_redeemed_and_customers_per_segment(
    analytics_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    """A dashboard's headline: rewards actually issued (a refunded one is not), and the
    segment counts of the last recompute."""
    query = """query($representations: [_Any!]!) { _entities(representations: $representations) {
      ... on Merchant { loyaltyMetrics { rewardsRedeemed segmentCounts { segment customerCount } } }
    } }"""
    customer_id = await add_customer(resources, tenant, points=300)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        reward = await create_reward(
            WriteContext(session, tenant.merchant_id),
            RewardTerms(
                kind=RewardKind.FIXED_AMOUNT, title="$5 off", points_cost=100, value=Decimal(5)
            ),
            idempotency_key="metrics:reward",
        )
    connector = ShopifyConnector.for_process(resources)
    for key in ("metrics:1", "metrics:2"):
        outcome = await redeem_reward(
            resources, connector, tenant.merchant_id, RedeemCommand(customer_id, reward.id, key)
        )
        assert outcome.error is None
    # Champions from the nightly pass: one customer with recent, frequent, large orders.
    buyers = [await add_customer(resources, tenant) for _ in range(3)]
    now = datetime.now(UTC)
    await record(
        resources,
        tenant,
        [fact(90_000 + n, buyers[0], now - timedelta(days=n), "500.00") for n in range(8)]
        + [
            fact(90_100 + n, buyer, now - timedelta(days=200), "20.00")
            for n, buyer in enumerate(buyers[1:])
        ],
    )
    await recompute_all(resources, now=now)

    body = await analytics_client.execute(query, merchant_refs(tenant.merchant_id), tenant=tenant)
    assert "errors" not in body, body
    found = body["data"]["_entities"][0]["loyaltyMetrics"]
    assert found["rewardsRedeemed"] == "2"
    counts = {row["segment"]: int(row["customerCount"]) for row in found["segmentCounts"]}
    assert counts["Champions"] == 1
    assert sum(counts.values()) == 3
