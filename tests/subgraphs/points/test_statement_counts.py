"""N+1 cannot come back: the SQL statements of a customers page do not grow with its size."""

from __future__ import annotations

from db.ids import new_id
from db.models import VipTier
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer

DASHBOARD = """
query($first: Int!) {
  customers(first: $first) {
    edges { node {
      pointsBalance
      vipTier { name }
      expiringPoints { points expiresAt }
      pointsTransactions(first: 10) { edges { node { points } } }
    } }
  }
}
"""


async def statements_for(
    client: SubgraphClient, tenant: Tenant, counter: StatementCounter, first: int
) -> int:
    before = counter.count
    body = await client.execute(DASHBOARD, {"first": first}, tenant=tenant)
    edges = body["data"]["customers"]["edges"]
    assert len(edges) == first
    assert all(edge["node"]["vipTier"]["name"] == "Member" for edge in edges)
    assert all(len(edge["node"]["pointsTransactions"]["edges"]) == 1 for edge in edges)
    return counter.count - before


async def test_customers_page_costs_the_same_for_5_and_for_50(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        session.add(
            VipTier(
                merchant_id=tenant.merchant_id,
                id=new_id(),
                name={"en": "Member"},
                rank=1,
                rules={"min_points_earned": 1},
            )
        )
    for _ in range(50):
        await add_customer(resources, tenant, points=10)  # earning assigns the tier
    # The first request of a shop also resolves the shop to its merchant (then remembered).
    await points_client.execute("{ customers(first: 1) { edges { cursor } } }", tenant=tenant)

    five = await statements_for(points_client, tenant, count_statements, 5)
    fifty = await statements_for(points_client, tenant, count_statements, 50)

    assert five == fifty
    assert fifty <= 5
