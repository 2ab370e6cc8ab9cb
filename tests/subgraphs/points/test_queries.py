"""Customers and their ledger as Relay connections, fetched without N+1."""

from __future__ import annotations

from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.ids import gid, row_id

EARN = """
mutation($input: PointsAdjustInput!) { pointsAdjust(input: $input) { userErrors { code } } }
"""
CUSTOMERS_WITH_HISTORY = """
query($first: Int, $after: String) {
  customers(first: $first, after: $after) {
    edges { cursor node { id pointsBalance pointsTransactions(first: 2) {
      edges { node { points reason } } pageInfo { hasNextPage }
    } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def earn(
    client: SubgraphClient, tenant: Tenant, customer_id: str, points: int, key: str
) -> None:
    result = await client.execute(
        EARN,
        {
            "input": {
                "customerId": gid("Customer", customer_id),
                "points": points,
                "reason": key,
                "idempotencyKey": key,
            }
        },
        tenant=tenant,
    )
    assert result["data"]["pointsAdjust"]["userErrors"] == []


async def test_customers_page_through_in_order(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    created = [await add_customer(resources, tenant) for _ in range(5)]

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = await points_client.execute(
            CUSTOMERS_WITH_HISTORY, {"first": 2, "after": after}, tenant=tenant
        )
        connection = body["data"]["customers"]
        seen += [row_id(edge["node"]["id"]) for edge in connection["edges"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    assert seen == created  # ids are time-ordered, so creation order
    assert pages == 3


async def test_ledger_is_newest_first_and_pages(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    for n, key in enumerate(["first", "second", "third"], start=1):
        await earn(points_client, tenant, customer_id, n, key)
    query = """
    query($id: ID!, $after: String) { customer(id: $id) { pointsBalance
      pointsTransactions(first: 2, after: $after) {
        edges { node { reason points kind } } pageInfo { hasNextPage endCursor } } } }
    """

    page_one = (
        await points_client.execute(query, {"id": gid("Customer", customer_id)}, tenant=tenant)
    )["data"]
    history = page_one["customer"]["pointsTransactions"]
    page_two = (
        await points_client.execute(
            query,
            {"id": gid("Customer", customer_id), "after": history["pageInfo"]["endCursor"]},
            tenant=tenant,
        )
    )["data"]["customer"]["pointsTransactions"]

    assert page_one["customer"]["pointsBalance"] == "6"
    assert [e["node"]["reason"] for e in history["edges"]] == ["third", "second"]
    assert history["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["reason"] for e in page_two["edges"]] == ["first"]
    assert page_two["pageInfo"]["hasNextPage"] is False


async def test_page_size_is_capped_and_bad_cursors_are_client_errors(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    bad_cursor = await points_client.execute(
        CUSTOMERS_WITH_HISTORY, {"after": "not-a-cursor"}, tenant=tenant
    )
    negative = await points_client.execute(CUSTOMERS_WITH_HISTORY, {"first": -1}, tenant=tenant)

    assert bad_cursor["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert negative["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def statements_for_customers(
    client: SubgraphClient, tenant: Tenant, counter: StatementCounter, first: int
) -> int:
    before = counter.count
    body = await client.execute(CUSTOMERS_WITH_HISTORY, {"first": first}, tenant=tenant)
    assert len(body["data"]["customers"]["edges"]) == first
    return counter.count - before


async def test_statements_per_request_do_not_grow_with_the_page(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    for _ in range(12):
        await add_customer(resources, tenant, points=10)
    # The first request of a shop also resolves the shop to its merchant (then remembered).
    await points_client.execute("{ customers(first: 1) { edges { cursor } } }", tenant=tenant)

    small = await statements_for_customers(points_client, tenant, count_statements, 2)
    large = await statements_for_customers(points_client, tenant, count_statements, 12)

    assert small == large == 2  # one for the customers page, one for all their ledgers
