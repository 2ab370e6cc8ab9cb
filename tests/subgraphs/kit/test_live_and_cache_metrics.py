"""What a subgraph's /metrics shows an operator: cache hits and misses per cache, open
subscriptions and the executions serving them, the fan-out's latency. Read over HTTP from
the served app, as Prometheus scrapes it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant, add_customer, served_subgraph
from tests.ids import gid

ISSUED = "subscription { loyaltyMetricsUpdated { pointsIssued } }"
MEMBERS = "subscription { loyaltyMetricsUpdated { membersCount } }"
METRICS = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Merchant { loyaltyMetrics { pointsIssued } }
  }
}
"""
EARN = """
mutation($input: PointsAdjustInput!) { pointsAdjust(input: $input) { userErrors { code } } }
"""


@pytest_asyncio.fixture(loop_scope="session")
async def analytics_url(resources: Resources) -> AsyncIterator[str]:
    async with served_subgraph("analytics", resources) as url:
        yield url


async def sample(analytics_url: str, name: str, **labels: str) -> float:
    metrics_url = analytics_url.replace("ws://", "http://").replace("/graphql", "/metrics")
    async with httpx.AsyncClient() as client:
        text = (await client.get(metrics_url)).text
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


async def test_open_subscriptions_and_their_shared_executions_are_gauged(
    analytics_url: str, resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, points=10)
    before = {
        "subscribers": await sample(
            analytics_url, "loyalnest_live_subscribers", subgraph="analytics"
        ),
        "streams": await sample(analytics_url, "loyalnest_live_streams", subgraph="analytics"),
    }
    async with connect(analytics_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
            )
        )
        await socket.recv()  # ack
        for number, query in enumerate([ISSUED, ISSUED, ISSUED, MEMBERS]):
            await socket.send(
                json.dumps({"id": str(number), "type": "subscribe", "payload": {"query": query}})
            )
        for _ in range(4):
            await asyncio.wait_for(socket.recv(), 10)
        subscribers = await sample(
            analytics_url, "loyalnest_live_subscribers", subgraph="analytics"
        )
        streams = await sample(analytics_url, "loyalnest_live_streams", subgraph="analytics")
        assert (subscribers - before["subscribers"], streams - before["streams"]) == (4, 2)

    async def back_to_before() -> bool:
        return (
            await sample(analytics_url, "loyalnest_live_subscribers", subgraph="analytics"),
            await sample(analytics_url, "loyalnest_live_streams", subgraph="analytics"),
        ) == (before["subscribers"], before["streams"])

    for _ in range(50):
        if await back_to_before():
            break
        await asyncio.sleep(0.05)
    assert await back_to_before()


async def test_the_fanout_is_timed_once_per_event(
    analytics_url: str, points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=10)
    before = await sample(analytics_url, "loyalnest_fanout_seconds_count")
    async with connect(analytics_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
            )
        )
        await socket.recv()
        for number in range(3):
            await socket.send(
                json.dumps({"id": str(number), "type": "subscribe", "payload": {"query": ISSUED}})
            )
        for _ in range(3):
            await asyncio.wait_for(socket.recv(), 10)
        await points_client.execute(
            EARN,
            {
                "input": {
                    "customerId": gid("Customer", customer_id),
                    "points": 5,
                    "reason": "review",
                    "idempotencyKey": f"fanout-metric:{customer_id}",
                }
            },
            tenant=tenant,
        )
        for _ in range(3):
            await asyncio.wait_for(socket.recv(), 10)
    assert await sample(analytics_url, "loyalnest_fanout_seconds_count") - before == 1


async def test_cache_lookups_are_counted_per_cache_and_outcome(
    analytics_url: str, analytics_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, points=10)
    labels = {"cache": "loyalty-metrics"}
    misses = await sample(analytics_url, "loyalnest_cache_lookups_total", outcome="miss", **labels)
    hits = await sample(analytics_url, "loyalnest_cache_lookups_total", outcome="hit", **labels)

    merchant = {"__typename": "Merchant", "id": gid("Merchant", tenant.merchant_id)}
    for _ in range(3):
        result = await analytics_client.execute(
            METRICS, {"representations": [merchant]}, tenant=tenant
        )
        assert result["data"]["_entities"][0]["loyaltyMetrics"] == {"pointsIssued": "10"}, result

    after_misses = await sample(
        analytics_url, "loyalnest_cache_lookups_total", outcome="miss", **labels
    )
    after_hits = await sample(
        analytics_url, "loyalnest_cache_lookups_total", outcome="hit", **labels
    )
    assert (after_misses - misses, after_hits - hits) == (1, 2)
