"""One endpoint, four subgraphs: what a dashboard or a third-party tool sees."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from websockets.asyncio.client import connect

from cli.compose import persisted_operations
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, add_customer
from tests.e2e.conftest import Router
from tests.ids import gid
from tests.subgraphs.points.test_wide_counters import BALANCE, EARNED, big_ledger

EARN = """
mutation Earn($input: PointsAdjustInput!) {
  pointsAdjust(input: $input) {
    transaction { id points }
    customer { id pointsBalance }
    userErrors { code }
  }
}
"""


@pytest_asyncio.fixture(loop_scope="session")
async def http(router: Router) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=15) as client:
        yield client


async def graphql(
    http: httpx.AsyncClient,
    tenant: Tenant | None,
    query: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await http.post(
        "",
        json={"query": query, "variables": variables or {}},
        headers=tenant.headers if tenant else {},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def earn(customer_id: str, points: int, key: str) -> dict[str, Any]:
    return {
        "input": {
            "customerId": gid("Customer", customer_id),
            "points": points,
            "reason": "order",
            "idempotencyKey": key,
        }
    }


async def test_one_request_is_answered_by_four_subgraphs(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=300)
    await graphql(
        http,
        tenant,
        """mutation($id: ID!) {
          referralLinkCreate(input: {customerId: $id}) { userErrors { code } }
        }""",
        {"id": gid("Customer", customer_id)},
    )

    body = await graphql(
        http,
        tenant,
        """{
          merchant { shopDomain plan loyaltyMetrics { membersCount pointsIssued } }
          customers(first: 5) { edges { node { id pointsBalance referralLink { code url } } } }
        }""",
    )

    assert "errors" not in body, body
    merchant = body["data"]["merchant"]
    assert merchant["shopDomain"] == tenant.shop_domain  # admin
    assert merchant["loyaltyMetrics"] == {"membersCount": "1", "pointsIssued": "300"}  # analytics
    [edge] = body["data"]["customers"]["edges"]  # points
    assert edge["node"]["pointsBalance"] == "300"
    link = edge["node"]["referralLink"]  # referrals
    assert link["url"].startswith(f"https://{tenant.shop_domain}/")
    assert link["code"] in link["url"]


async def test_points_earn_through_the_router_is_idempotent(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)

    first = await graphql(http, tenant, EARN, earn(customer_id, 70, "order-1001"))
    retry = await graphql(http, tenant, EARN, earn(customer_id, 70, "order-1001"))
    balance = await graphql(
        http,
        tenant,
        "query($id: ID!) { customer(id: $id) { pointsBalance } }",
        {"id": gid("Customer", customer_id)},
    )

    assert first["data"]["pointsAdjust"]["customer"]["pointsBalance"] == "70"
    assert (
        retry["data"]["pointsAdjust"]["transaction"] == first["data"]["pointsAdjust"]["transaction"]
    )
    assert balance["data"]["customer"]["pointsBalance"] == "70"


async def test_every_subgraphs_user_errors_read_as_one_displayable_error(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=10)
    nobody = "01900000-0000-7000-8000-000000000000"

    body = await graphql(
        http,
        tenant,
        """fragment Shown on DisplayableError { __typename field message }
        mutation($customer: ID!, $nobody: ID!, $noDelivery: ID!) {
          pointsAdjust(input: {customerId: $customer, points: -50, reason: "typo",
                               idempotencyKey: "e2e-displayable"}) {
            transaction { id }
            userErrors { ...Shown code }
          }
          referralLinkCreate(input: {customerId: $nobody}) { userErrors { ...Shown code } }
          webhookRetry(input: {id: $noDelivery}) { userErrors { ...Shown code } }
        }""",
        {
            "customer": gid("Customer", customer_id),
            "nobody": gid("Customer", nobody),
            "noDelivery": gid("WebhookDelivery", nobody),
        },
    )

    assert "errors" not in body, body
    data = body["data"]
    assert data["pointsAdjust"]["transaction"] is None
    [points] = data["pointsAdjust"]["userErrors"]  # points subgraph
    [referral] = data["referralLinkCreate"]["userErrors"]  # referrals subgraph
    [retry] = data["webhookRetry"]["userErrors"]  # admin subgraph
    assert (points["__typename"], points["code"], points["field"]) == (
        "PointsUserError",
        "INSUFFICIENT_POINTS",
        ["input", "points"],
    )
    assert (referral["__typename"], referral["code"], referral["field"]) == (
        "ReferralUserError",
        "CUSTOMER_NOT_FOUND",
        ["input", "customerId"],
    )
    assert (retry["__typename"], retry["code"], retry["field"]) == (
        "WebhookRetryUserError",
        "NOT_FOUND",
        ["input", "id"],
    )
    assert all(error["message"] for error in (points, referral, retry))


async def test_subscription_through_the_router_receives_the_mutations_update(
    router: Router, http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=10)
    async with connect(router.ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
            )
        )
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
        await socket.send(
            json.dumps(
                {
                    "id": "metrics",
                    "type": "subscribe",
                    "payload": {"query": "subscription { loyaltyMetricsUpdated { pointsIssued } }"},
                }
            )
        )
        current = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert current["payload"]["data"]["loyaltyMetricsUpdated"]["pointsIssued"] == "10"

        result = await graphql(http, tenant, EARN, earn(customer_id, 15, "order-2002"))
        assert result["data"]["pointsAdjust"]["userErrors"] == []

        update = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert update["id"] == "metrics"
        assert update["payload"]["data"]["loyaltyMetricsUpdated"]["pointsIssued"] == "25"


async def test_another_merchants_data_reads_as_nothing(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    victim = await add_customer(resources, other_tenant, points=999)

    body = await graphql(
        http,
        tenant,
        "query($id: ID!) { customer(id: $id) { id pointsBalance referralLink { code } } }",
        {"id": gid("Customer", victim)},
    )
    listing = await graphql(http, tenant, "{ customers(first: 100) { edges { node { id } } } }")

    # No errors either: `extensions` carries only the request's cost.
    assert {key: body[key] for key in body if key != "extensions"} == {"data": {"customer": None}}
    assert gid("Customer", victim) not in {
        e["node"]["id"] for e in listing["data"]["customers"]["edges"]
    }


async def test_a_request_without_a_token_is_unauthenticated(http: httpx.AsyncClient) -> None:
    body = await graphql(http, None, "{ merchant { id } }")

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_persisted_operation_by_document_id(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=42)
    [operation] = [op for op in persisted_operations() if op.name == "CustomerPoints"]

    response = await http.post(
        "",
        json={"documentId": operation.id, "variables": {"id": gid("Customer", customer_id)}},
        headers=tenant.headers,
    )

    assert response.status_code == 200
    assert response.json()["data"]["customer"]["pointsBalance"] == "42"


async def test_persisted_customer_points_pages_through_the_ledger(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=42)
    for n in range(2):
        body = await graphql(http, tenant, EARN, earn(customer_id, 5 + n, f"{customer_id}-{n}"))
        assert body["data"]["pointsAdjust"]["userErrors"] == []
    [operation] = [op for op in persisted_operations() if op.name == "CustomerPoints"]

    points: list[int] = []
    after = None
    while True:
        response = await http.post(
            "",
            json={
                "documentId": operation.id,
                "variables": {"id": gid("Customer", customer_id), "first": 2, "after": after},
            },
            headers=tenant.headers,
        )
        assert response.status_code == 200, response.text
        history = response.json()["data"]["customer"]["pointsTransactions"]
        points += [edge["node"]["points"] for edge in history["edges"]]
        if not history["pageInfo"]["hasNextPage"]:
            break
        after = history["pageInfo"]["endCursor"]

    assert points == [6, 5, 42]  # newest first, over two pages


CUSTOMERS_BACKWARDS = """
query($last: Int, $before: String) {
  customers(last: $last, before: $before, sortKey: POINTS_BALANCE) {
    nodes { id pointsBalance referralLink { code } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def test_customers_page_backwards_across_subgraphs(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    balances = [30, 10, 20]
    created = {points: await add_customer(resources, tenant, points=points) for points in balances}

    last = await graphql(http, tenant, CUSTOMERS_BACKWARDS, {"last": 2})
    assert "errors" not in last, last  # referralLink resolved by referrals
    page = last["data"]["customers"]
    before = await graphql(
        http, tenant, CUSTOMERS_BACKWARDS, {"last": 2, "before": page["pageInfo"]["startCursor"]}
    )
    assert "errors" not in before, before
    rest = before["data"]["customers"]

    assert [node["id"] for node in page["nodes"]] == [
        gid("Customer", created[20]),
        gid("Customer", created[30]),
    ]
    assert (page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["hasNextPage"]) == (True, False)
    assert [node["id"] for node in rest["nodes"]] == [gid("Customer", created[10])]
    assert (rest["pageInfo"]["hasPreviousPage"], rest["pageInfo"]["hasNextPage"]) == (False, True)


async def test_a_page_above_the_maximum_is_bad_user_input_through_the_router(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = await graphql(http, tenant, "{ customers(first: 101) { nodes { id } } }")

    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "at most 100" in error["message"]


async def test_a_balance_past_32_bits_crosses_the_router_exactly(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    await big_ledger(resources, tenant, customer_id)  # 4,500,000,000 points, invariants kept

    body = await graphql(
        http,
        tenant,
        "query($id: ID!) { customer(id: $id) { pointsBalance totalPointsEarned } }",
        {"id": gid("Customer", customer_id)},
    )

    assert "errors" not in body, body
    assert body["data"]["customer"] == {
        "pointsBalance": str(BALANCE),
        "totalPointsEarned": str(EARNED),
    }
    assert BALANCE > 2**32
