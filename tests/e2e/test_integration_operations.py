"""The persisted operations a Zapier/CRM integration calls, each run through the real router
by its id (never its text) with a merchant API key, as a tool would, paging where it pages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from websockets.asyncio.client import connect

from cli.compose import persisted_operations
from db.session import tenant_unit_of_work
from subgraphs.kit.api_keys import create_api_key
from subgraphs.kit.permissions import Capability
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, add_customer
from tests.e2e.conftest import Router
from tests.ids import gid
from tests.subgraphs.admin.inbox_helpers import add_delivery

OPERATIONS = {operation.name: operation for operation in persisted_operations()}
# Every shipped operation has its test here; a new one fails this list until it gets one.
TESTED = {
    "CustomersSearch",
    "CustomerPoints",
    "PointsEarn",
    "PointsAdjust",
    "Rewards",
    "RewardRedeem",
    "WebhookDeliveries",
    "LoyaltyMetricsLive",
}
TOOL_SCOPES = [
    Capability.READ_CUSTOMERS,
    Capability.READ_PROGRAM,
    Capability.WRITE_POINTS,
    Capability.READ_WEBHOOKS,
]


def test_every_shipped_operation_is_tested_through_the_router() -> None:
    assert set(OPERATIONS) == TESTED


@pytest_asyncio.fixture(loop_scope="session")
async def http(router: Router) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=15) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def tool(resources: Resources, tenant: Tenant) -> dict[str, str]:
    """The headers of an integration: a merchant API key with the scopes a CRM asks for."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        created = await create_api_key(
            session, tenant.merchant_id, label="Zapier", scopes=TOOL_SCOPES, created_by="test"
        )
    return {"authorization": f"Bearer {created.key}"}


async def persisted(
    http: httpx.AsyncClient, headers: dict[str, str], name: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """Run the shipped operation ``name`` by its document id; its data (no errors allowed)."""
    response = await http.post(
        "", json={"documentId": OPERATIONS[name].id, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def every_page(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    variables: dict[str, Any],
    connection: str,
) -> list[list[dict[str, Any]]]:
    """Each page's nodes, following pageInfo.endCursor as $after while hasNextPage."""
    pages: list[list[dict[str, Any]]] = []
    after = None
    while True:
        data = await persisted(http, headers, name, {**variables, "after": after})
        page = data[connection]
        pages.append(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]
        assert len(pages) < 10, "paging does not end"


async def test_customers_search_finds_one_by_email_and_pages_through_a_filter(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant, tool: dict[str, str]
) -> None:
    ann = gid(
        "Customer", await add_customer(resources, tenant, email="ann.lee@example.com", points=120)
    )
    rich = [
        gid("Customer", await add_customer(resources, tenant, points=points))
        for points in (500, 700, 900)
    ]
    await add_customer(resources, tenant, points=10)

    by_email = await persisted(
        http, tool, "CustomersSearch", {"query": "email:Ann.Lee@Example.com"}
    )
    pages = await every_page(
        http,
        tool,
        "CustomersSearch",
        {"query": "points_balance:>=500", "first": 2},
        "customers",
    )

    [found] = by_email["customers"]["nodes"]
    assert (found["id"], found["email"], found["pointsBalance"]) == (
        ann,
        "ann.lee@example.com",
        "120",
    )
    assert found["totalSpent"]["currencyCode"] == "USD"
    assert found["redactedAt"] is None
    assert [[customer["id"] for customer in page] for page in pages] == [rich[:2], rich[2:]]


async def test_customer_points_pages_the_ledger_newest_first(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant, tool: dict[str, str]
) -> None:
    customer_id = gid("Customer", await add_customer(resources, tenant, points=42))
    for n, points in enumerate((5, 6)):
        adjusted = await persisted(
            http,
            tool,
            "PointsAdjust",
            {
                "input": {
                    "customerId": customer_id,
                    "points": points,
                    "reason": "CRM import",
                    "idempotencyKey": f"crm:{customer_id}:{n}",
                }
            },
        )
        assert adjusted["pointsAdjust"]["userErrors"] == []

    pages: list[list[dict[str, Any]]] = []
    after = None
    while True:
        data = await persisted(
            http, tool, "CustomerPoints", {"id": customer_id, "first": 2, "after": after}
        )
        history = data["customer"]["pointsTransactions"]
        pages.append([edge["node"] for edge in history["edges"]])
        if not history["pageInfo"]["hasNextPage"]:
            break
        after = history["pageInfo"]["endCursor"]

    assert data["customer"]["pointsBalance"] == "53"
    assert [[entry["points"] for entry in page] for page in pages] == [[6, 5], [42]]
    assert {entry["kind"] for page in pages for entry in page} == {"ADJUST"}


async def test_points_earn_and_adjust_change_the_ledger_once_per_key(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant, tool: dict[str, str]
) -> None:
    customer_id = gid("Customer", await add_customer(resources, tenant))
    order = {
        "id": "zap-1",
        "currencyCode": "USD",
        "lines": [{"id": "a", "quantity": 2, "amount": "30.00"}],
    }
    earn = {"input": {"customerId": customer_id, "order": order, "idempotencyKey": "zap:1"}}
    adjust = {
        "input": {
            "customerId": customer_id,
            "points": -10,
            "reason": "goodwill correction",
            "idempotencyKey": "zap:adjust:1",
        }
    }

    earned = (await persisted(http, tool, "PointsEarn", earn))["pointsEarn"]
    earned_again = (await persisted(http, tool, "PointsEarn", earn))["pointsEarn"]
    adjusted = (await persisted(http, tool, "PointsAdjust", adjust))["pointsAdjust"]
    adjusted_again = (await persisted(http, tool, "PointsAdjust", adjust))["pointsAdjust"]

    points = earned["transaction"]["points"]
    assert earned["userErrors"] == []
    assert points > 10
    assert earned["transaction"]["explanation"], "the award explains itself"
    assert earned_again["transaction"]["id"] == earned["transaction"]["id"]
    assert adjusted["userErrors"] == []
    assert adjusted_again["transaction"] == adjusted["transaction"]
    assert adjusted_again["customer"]["pointsBalance"] == str(points - 10)


async def create_reward(
    http: httpx.AsyncClient, tenant: Tenant, title: str, cost: int, *, active: bool = True
) -> str:
    """Catalog set-up is the merchant dashboard's job (session token), not the tool's."""
    response = await http.post(
        "",
        json={
            "query": """mutation($input: RewardCreateInput!) { rewardCreate(input: $input) {
                          reward { id } userErrors { code } } }""",
            "variables": {
                "input": {
                    "kind": "FIXED_AMOUNT",
                    "title": title,
                    "pointsCost": cost,
                    "value": "5",
                    "active": active,
                    "idempotencyKey": f"reward:{title}",
                }
            },
        },
        headers=tenant.headers,
    )
    payload = response.json()["data"]["rewardCreate"]
    assert payload["userErrors"] == [], payload
    return str(payload["reward"]["id"])


async def test_rewards_pages_the_catalog(
    http: httpx.AsyncClient, tenant: Tenant, tool: dict[str, str]
) -> None:
    active = [await create_reward(http, tenant, f"${n} off", 100 * n) for n in (1, 2, 3)]
    paused = await create_reward(http, tenant, "paused", 50, active=False)

    pages = await every_page(http, tool, "Rewards", {"first": 2}, "rewards")
    everything = await every_page(
        http, tool, "Rewards", {"first": 2, "includeInactive": True}, "rewards"
    )

    assert [[reward["id"] for reward in page] for page in pages] == [active[:2], active[2:]]
    assert pages[0][0]["value"] == {"amount": "5.00", "currencyCode": "USD"}
    assert [reward["id"] for page in everything for reward in page] == [*active, paused]


async def test_reward_redeem_spends_once_per_key(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant, tool: dict[str, str]
) -> None:
    customer_id = gid("Customer", await add_customer(resources, tenant, points=500))
    reward_id = await create_reward(http, tenant, "$5 off", 450)
    redeem = {
        "input": {"customerId": customer_id, "rewardId": reward_id, "idempotencyKey": "zap:r1"}
    }

    first = (await persisted(http, tool, "RewardRedeem", redeem))["rewardRedeem"]
    retry = (await persisted(http, tool, "RewardRedeem", redeem))["rewardRedeem"]
    again = (
        await persisted(
            http,
            tool,
            "RewardRedeem",
            {"input": {**redeem["input"], "idempotencyKey": "zap:r2"}},
        )
    )["rewardRedeem"]

    redemption = first["redemption"]
    assert first["userErrors"] == []
    assert (redemption["status"], redemption["pointsSpent"]) == ("ISSUED", 450)
    assert redemption["code"]
    assert redemption["reward"] == {"id": reward_id, "title": "$5 off"}
    assert first["customer"]["pointsBalance"] == "50"
    assert retry["redemption"] == redemption
    assert [error["code"] for error in again["userErrors"]] == ["INSUFFICIENT_POINTS"]


async def test_webhook_deliveries_pages_newest_first_and_filters(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant, tool: dict[str, str]
) -> None:
    oldest = gid(
        "WebhookDelivery", await add_delivery(resources, tenant, topic="orders/paid", status="done")
    )
    failed = gid(
        "WebhookDelivery",
        await add_delivery(
            resources, tenant, topic="orders/create", status="failed", attempts=5, last_error="boom"
        ),
    )
    newest = gid(
        "WebhookDelivery", await add_delivery(resources, tenant, topic="orders/paid", status="done")
    )

    pages = await every_page(http, tool, "WebhookDeliveries", {"first": 2}, "webhookDeliveries")
    only_failed = await persisted(http, tool, "WebhookDeliveries", {"status": "FAILED"})
    only_paid = await persisted(http, tool, "WebhookDeliveries", {"topic": "ORDERS_PAID"})

    assert [[delivery["id"] for delivery in page] for page in pages] == [
        [newest, failed],
        [oldest],
    ]
    [failure] = only_failed["webhookDeliveries"]["nodes"]
    assert (failure["id"], failure["topic"], failure["attempts"], failure["lastError"]) == (
        failed,
        "ORDERS_CREATE",
        5,
        "boom",
    )
    assert failure["nextAttemptAt"] is None
    assert [d["id"] for d in only_paid["webhookDeliveries"]["nodes"]] == [newest, oldest]


async def test_a_key_without_read_webhooks_may_not_list_deliveries(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        created = await create_api_key(
            session,
            tenant.merchant_id,
            label="CRM without webhooks",
            scopes=[scope for scope in TOOL_SCOPES if scope is not Capability.READ_WEBHOOKS],
        )

    response = await http.post(
        "",
        json={"documentId": OPERATIONS["WebhookDeliveries"].id, "variables": {}},
        headers={"authorization": f"Bearer {created.key}"},
    )

    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_loyalty_metrics_live_subscribes_by_document_id(
    router: Router, resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, points=7)
    async with connect(router.ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
            )
        )
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "connection_ack"
        # By id over a socket, the router also wants an empty "query".
        subscribe = {"documentId": OPERATIONS["LoyaltyMetricsLive"].id, "query": ""}
        await socket.send(json.dumps({"id": "live", "type": "subscribe", "payload": subscribe}))
        current = json.loads(await asyncio.wait_for(socket.recv(), 10))

    assert current["payload"]["data"]["loyaltyMetricsUpdated"] == {
        "membersCount": "1",
        "pointsIssued": "7",
        "pointsRedeemed": "0",
    }
