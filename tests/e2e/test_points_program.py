"""The points program through the one endpoint: what a merchant dashboard and the storefront
widget do, end to end through the real router and subgraph processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from websockets.asyncio.client import connect

from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, add_customer
from tests.e2e.conftest import Router
from tests.ids import gid


@pytest_asyncio.fixture(loop_scope="session")
async def http(router: Router) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=router.url, timeout=15) as client:
        yield client


async def graphql(
    http: httpx.AsyncClient, tenant: Tenant, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await http.post(
        "", json={"query": query, "variables": variables or {}}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


ORDER = {
    "id": "e2e-1",
    "currencyCode": "USD",
    "lines": [
        {"id": "a", "quantity": 1, "amount": "20.00"},
        {"id": "b", "quantity": 2, "amount": "30.00"},
    ],
}


async def test_a_merchant_configures_calculates_earns_and_refunds(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    settings = await graphql(
        http,
        tenant,
        """mutation { programSettingsUpdate(input: {pointsName: "Stars", firstPurchase: null,
             earning: {purchasePointsPerUnit: "5"}}) {
             programSettings { pointsName earning { purchasePointsPerUnit } }
             userErrors { code } } }""",
    )
    assert settings["programSettingsUpdate"]["programSettings"]["pointsName"] == "Stars"

    preview = await graphql(
        http,
        tenant,
        """query($input: PointsCalculateInput!) { pointsCalculate(input: $input) {
             calculation { points explanation { rule applied } } userErrors { code } } }""",
        {"input": {"customerId": gid("Customer", customer_id), "order": ORDER}},
    )
    assert preview["pointsCalculate"]["calculation"]["points"] == 250

    earned = await graphql(
        http,
        tenant,
        """mutation($input: PointsEarnInput!) { pointsEarn(input: $input) {
             transaction { points explanation { rule } } customer { pointsBalance }
             userErrors { code } } }""",
        {
            "input": {
                "customerId": gid("Customer", customer_id),
                "order": ORDER,
                "idempotencyKey": "order:e2e-1",
            }
        },
    )
    assert earned["pointsEarn"]["customer"]["pointsBalance"] == "250"
    assert [s["rule"] for s in earned["pointsEarn"]["transaction"]["explanation"]] == [
        s["rule"] for s in preview["pointsCalculate"]["calculation"]["explanation"]
    ]

    refunded = await graphql(
        http,
        tenant,
        """mutation($input: PointsReverseInput!) { pointsReverse(input: $input) {
             transaction { points } customer { pointsBalance } userErrors { code } } }""",
        {
            "input": {
                "orderId": "e2e-1",
                "idempotencyKey": "refund:e2e",
                "reason": "refund",
                "lines": [{"lineId": "b", "quantity": 1}],
            }
        },
    )
    assert refunded["pointsReverse"]["transaction"]["points"] == -75
    assert refunded["pointsReverse"]["customer"]["pointsBalance"] == "175"


async def test_the_storefront_widget_sees_its_customers_points_live(
    router: Router, http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=10)
    other_customer = await add_customer(resources, tenant)
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
                    "id": "widget",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription($id: ID!) { customerPointsUpdated(customerId: $id)"
                        " { id pointsBalance } }",
                        "variables": {"id": gid("Customer", customer_id)},
                    },
                }
            )
        )
        current = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert current["payload"]["data"]["customerPointsUpdated"]["pointsBalance"] == "10"

        adjust = """mutation($input: PointsAdjustInput!) { pointsAdjust(input: $input) {
                      userErrors { code } } }"""
        # Another customer's change is not pushed to this widget; its own is.
        await graphql(
            http,
            tenant,
            adjust,
            {
                "input": {
                    "customerId": gid("Customer", other_customer),
                    "points": 7,
                    "reason": "x",
                    "idempotencyKey": "w1",
                }
            },
        )
        await graphql(
            http,
            tenant,
            adjust,
            {
                "input": {
                    "customerId": gid("Customer", customer_id),
                    "points": 5,
                    "reason": "y",
                    "idempotencyKey": "w2",
                }
            },
        )

        update = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert update["payload"]["data"]["customerPointsUpdated"] == {
            "id": gid("Customer", customer_id),
            "pointsBalance": "15",
        }


async def test_a_shopper_reaches_a_tier_and_redeems_a_sandbox_reward(
    http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    tier = await graphql(
        http,
        tenant,
        """mutation { vipTierCreate(input: {names: [{locale: "en", value: "Gold"}], rank: 1,
             rules: {minPointsEarned: 500}, idempotencyKey: "tier:gold"}) {
             vipTier { id } userErrors { code } } }""",
    )
    assert tier["vipTierCreate"]["userErrors"] == []
    reward = await graphql(
        http,
        tenant,
        """mutation { rewardCreate(input: {kind: FIXED_AMOUNT, title: "$5 off", pointsCost: 500,
             value: "5", idempotencyKey: "reward:5-off"}) {
             reward { id } userErrors { code } } }""",
    )
    reward_id = reward["rewardCreate"]["reward"]["id"]
    customer_id = await add_customer(resources, tenant, points=600)

    redeemed = await graphql(
        http,
        tenant,
        """mutation($input: RewardRedeemInput!) { rewardRedeem(input: $input) {
             redemption { status code sandbox } customer { pointsBalance }
             userErrors { code } } }""",
        {
            "input": {
                "customerId": gid("Customer", customer_id),
                "rewardId": reward_id,
                "idempotencyKey": "r-1",
            }
        },
    )
    customer = await graphql(
        http,
        tenant,
        "query($id: ID!) { customer(id: $id) { pointsBalance vipTier { name } } }",
        {"id": gid("Customer", customer_id)},
    )

    payload = redeemed["rewardRedeem"]
    assert payload["userErrors"] == []
    assert payload["redemption"]["status"] == "ISSUED"
    assert payload["redemption"]["sandbox"] is True
    assert payload["redemption"]["code"].startswith("LN-")
    assert customer["customer"] == {"pointsBalance": "100", "vipTier": {"name": "Gold"}}
