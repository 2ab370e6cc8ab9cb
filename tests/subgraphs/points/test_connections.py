"""Every connection of the points subgraph paged forwards and backwards, reversed, with a full
pageInfo, refusing oversized pages and mixed directions; the customers list by each sort key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, SubgraphClient, Tenant, add_customer
from tests.ids import gid, row_id
from tests.subgraphs.connection_helpers import (
    ARGUMENTS,
    ARGUMENTS_DECLARED,
    SELECTION,
    Fetch,
    check_connection,
    connection_of,
    error_messages,
    page_ids,
    walk_backwards,
    walk_forwards,
)
from tests.subgraphs.points.test_campaigns import create_campaign
from tests.subgraphs.points.test_queries import earn
from tests.subgraphs.points.test_redemption import new_reward, redeem

CUSTOMERS = f"""
query({ARGUMENTS_DECLARED}, $sortKey: CustomerSortKey) {{
  customers({ARGUMENTS}, sortKey: $sortKey) {{ {SELECTION} }}
}}
"""
TRANSACTIONS = f"""
query($id: ID!, {ARGUMENTS_DECLARED}) {{
  customer(id: $id) {{ pointsTransactions({ARGUMENTS}) {{ {SELECTION} }} }}
}}
"""
REDEMPTIONS = f"""
query($id: ID!, {ARGUMENTS_DECLARED}) {{
  customer(id: $id) {{ redemptions({ARGUMENTS}) {{ {SELECTION} }} }}
}}
"""
REWARDS = f"""
query({ARGUMENTS_DECLARED}) {{
  rewards({ARGUMENTS}, includeInactive: true) {{ {SELECTION} }}
}}
"""
CAMPAIGNS = f"""
query({ARGUMENTS_DECLARED}) {{ campaigns({ARGUMENTS}) {{ {SELECTION} }} }}
"""
EVERY_CUSTOMERS_HISTORY_BACKWARDS = """
query($last: Int) {
  customers(first: 50) { edges { node {
    pointsTransactions(last: $last) { nodes { id } pageInfo { hasPreviousPage } }
    redemptions(last: $last) { nodes { id } pageInfo { hasPreviousPage } }
  } } }
}
"""


def fetcher(client: SubgraphClient, tenant: Tenant, query: str, **fixed: Any) -> Fetch:
    async def fetch(variables: dict[str, Any]) -> dict[str, Any]:
        return await client.execute(query, {**fixed, **variables}, tenant=tenant)

    return fetch


async def test_customers_page_both_ways_by_id(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    created = [await add_customer(resources, tenant) for _ in range(5)]

    await check_connection(fetcher(points_client, tenant, CUSTOMERS), ["customers"], created)


async def test_customers_by_each_sort_key_ties_broken_by_id(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    balances = [300, 100, 300, 200, 100, 0]
    created = [await add_customer(resources, tenant, points=points) for points in balances]
    by_balance = [customer_id for _, customer_id in sorted(zip(balances, created, strict=True))]

    for sort_key, expected in (
        ("ID", created),
        ("CREATED_AT", created),  # each enrolled in its own, later, transaction
        ("POINTS_BALANCE", by_balance),
    ):
        fetch = fetcher(points_client, tenant, CUSTOMERS, sortKey=sort_key)
        await check_connection(fetch, ["customers"], expected)
        for size in (1, 4):
            assert await walk_forwards(fetch, ["customers"], size) == expected
            assert await walk_backwards(fetch, ["customers"], size, reverse=True) == expected[::-1]

    # A cursor keeps the order it was made in: another sort key refuses it.
    page = connection_of(
        await points_client.execute(
            CUSTOMERS, {"first": 2, "sortKey": "POINTS_BALANCE"}, tenant=tenant
        ),
        ["customers"],
    )
    mixed = await points_client.execute(
        CUSTOMERS, {"after": page["pageInfo"]["endCursor"], "sortKey": "CREATED_AT"}, tenant=tenant
    )
    [(code, message)] = error_messages(mixed)
    assert code == "BAD_USER_INPUT"
    assert "sort key" in message


async def test_points_transactions_page_both_ways_newest_first(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    for n in range(5):
        await earn(points_client, tenant, customer_id, 10 + n, f"{customer_id}-{n}")
    everything = connection_of(
        await points_client.execute(
            TRANSACTIONS, {"id": gid("Customer", customer_id), "first": 10}, tenant=tenant
        ),
        ["customer", "pointsTransactions"],
    )
    newest_first = page_ids(everything)
    assert len(newest_first) == 5
    assert newest_first == sorted(newest_first, reverse=True)  # ids are time-ordered

    await check_connection(
        fetcher(points_client, tenant, TRANSACTIONS, id=gid("Customer", customer_id)),
        ["customer", "pointsTransactions"],
        newest_first,
    )


async def test_redemptions_page_both_ways_newest_first(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    reward_id = await new_reward(resources, tenant)
    customer_id = await add_customer(resources, tenant, points=1000)
    redeemed = []
    for n in range(5):
        payload = await redeem(points_client, tenant, customer_id, reward_id, f"{customer_id}-{n}")
        assert payload["userErrors"] == []
        redeemed.append(row_id(payload["redemption"]["id"]))

    await check_connection(
        fetcher(points_client, tenant, REDEMPTIONS, id=gid("Customer", customer_id)),
        ["customer", "redemptions"],
        redeemed[::-1],
    )


async def test_per_customer_pages_backwards_in_one_statement_each(
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    reward_id = await new_reward(resources, tenant)
    customers = [await add_customer(resources, tenant, points=1000) for _ in range(3)]
    for customer_id in customers:
        for n in range(3):
            payload = await redeem(
                points_client, tenant, customer_id, reward_id, f"{customer_id}-{n}"
            )
            assert payload["userErrors"] == []

    async def statements(last: int) -> tuple[int, list[dict[str, Any]]]:
        before = count_statements.count
        body = await points_client.execute(
            EVERY_CUSTOMERS_HISTORY_BACKWARDS, {"last": last}, tenant=tenant
        )
        assert "errors" not in body, body
        edges = body["data"]["customers"]["edges"]
        return count_statements.count - before, edges

    few, edges = await statements(2)
    many, _ = await statements(50)
    assert few == many  # the same statements whatever the page size
    for edge in edges:
        # The opening balance and three redemptions: the last two of each, oldest first.
        history = edge["node"]["pointsTransactions"]
        assert len(history["nodes"]) == 2
        assert history["pageInfo"]["hasPreviousPage"] is True
        assert [node["id"] for node in history["nodes"]] == sorted(
            (node["id"] for node in history["nodes"]), reverse=True
        )
        assert edge["node"]["redemptions"]["pageInfo"]["hasPreviousPage"] is True


async def test_rewards_page_both_ways_oldest_first(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    created = [await new_reward(resources, tenant, title=f"reward {n}") for n in range(5)]

    await check_connection(fetcher(points_client, tenant, REWARDS), ["rewards"], created)


async def test_campaigns_page_both_ways_latest_start_first(
    points_client: SubgraphClient, tenant: Tenant
) -> None:
    now = datetime.now(UTC)
    starts = [now - timedelta(hours=hours) for hours in (3, 1, 5, 2, 4)]
    created = {
        start: (
            await create_campaign(
                points_client,
                tenant,
                name=f"campaign {n}",
                startsAt=start.isoformat(),
                endsAt=(now + timedelta(days=1)).isoformat(),
            )
        )["id"]
        for n, start in enumerate(starts)
    }
    latest_first = [row_id(created[start]) for start in sorted(starts, reverse=True)]

    await check_connection(fetcher(points_client, tenant, CAMPAIGNS), ["campaigns"], latest_first)
