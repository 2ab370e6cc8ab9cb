"""The static cost limit at a subgraph reached directly: an operation over the budget is refused
before it runs, with its cost and the budget; and what the cost counts."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from subgraphs.kit.graphql.cost import operation_cost
from subgraphs.points.schema import schema as points_schema
from tests.conftest import SubgraphClient, Tenant

ALIASES_OF_NESTED_PAGES = (
    "{ "
    + " ".join(
        f"a{n}: customers(first: 100) {{ edges {{ node {{ "
        f"pointsTransactions(first: 100) {{ edges {{ node {{ id }} }} }} }} }} }}"
        for n in range(30)
    )
    + " }"
)


async def test_thirty_aliases_of_nested_pages_are_refused_with_their_cost(
    points_client: SubgraphClient, tenant: Tenant, count_statements: Any
) -> None:
    # Once, so the shop's merchant is remembered and authentication reads nothing more.
    await points_client.execute("{ customers(first: 1) { nodes { id } } }", tenant=tenant)
    before = count_statements.count

    body = await points_client.execute(ALIASES_OF_NESTED_PAGES, tenant=tenant)

    assert body.get("data") is None
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "cost": 30 * (100 + 100 * 100),
        "maxCost": 10_000,
    }
    assert "303000" in error["message"]
    # Refused before it ran: not one row was read.
    assert count_statements.count == before


@pytest.mark.parametrize(
    ("query", "variables", "cost"),
    [
        # A connection costs its page size, the default page size without first / last.
        ("{ customers { nodes { id } } }", {}, 20),
        ("query($n: Int) { customers(last: $n) { nodes { id } } }", {"n": 7}, 7),
        # ...multiplied through nesting; pageInfo and edges are the page's own structure.
        (
            "{ customers(first: 5) { pageInfo { hasNextPage } edges { node { "
            "pointsTransactions(first: 3) { nodes { id } } } } } }",
            {},
            5 + 5 * 3,
        ),
        # Fragments and aliases count each time they are selected.
        (
            "query { a: customers(first: 2) { ...c } b: customers(first: 4) { ...c } } "
            "fragment c on CustomerConnection { nodes { pointsTransactions(first: 10) { "
            "nodes { id } } } }",
            {},
            2 + 2 * 10 + 4 + 4 * 10,
        ),
        # A list fetched by ids (the router's entity fetches) costs one per id.
        (
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { "
            "pointsTransactions(first: 2) { nodes { id } } } } }",
            {"r": [{"__typename": "Customer", "id": str(n)} for n in range(3)]},
            3 + 3 * 2,
        ),
        # A mutation adds 10; an object costs 1, a scalar nothing.
        (
            "mutation($input: PointsAdjustInput!) { pointsAdjust(input: $input) { "
            "transaction { id points } userErrors { message } } }",
            {},
            10 + 1 + 1 + 1,
        ),
    ],
)
def test_the_cost_counts_the_items_an_operation_can_ask_for(
    query: str, variables: dict[str, Any], cost: int
) -> None:
    assert operation_cost(points_schema._schema, parse(query), None, variables) == cost
