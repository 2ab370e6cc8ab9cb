"""Redis hung (the process stopped with SIGSTOP: connections open, nothing answers): a
mutation that committed answers at once, cached reads fall back to Postgres quickly, and
nothing is lost. The bounds are the product's promises (1 s for the mutation, 200 ms for a
read), counted on top of the same work timed with Redis answering, in the same run."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio
from sqlalchemy import func, select

from cli.embedded import EmbeddedRedis, start_redis
from db.models import PointsTransaction
from db.session import tenant_unit_of_work
from subgraphs.analytics.loaders import build_analytics_loaders
from subgraphs.analytics.schema import schema as analytics_schema
from subgraphs.kit.graphql.app import create_subgraph_app
from subgraphs.kit.resources import Resources, open_resources
from subgraphs.kit.settings import Settings
from subgraphs.points.loaders import build_points_loaders
from subgraphs.points.schema import schema as points_schema
from tests.conftest import SubgraphClient, Tenant, add_customer
from tests.ids import gid

ADJUST = """
mutation($input: PointsAdjustInput!) {
  pointsAdjust(input: $input) { customer { pointsBalance } userErrors { code } }
}
"""
METRICS = """
query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Merchant { loyaltyMetrics { pointsIssued } } } }
"""


def adjustment(customer_id: str, points: int, key: str) -> dict[str, object]:
    return {
        "input": {
            "customerId": gid("Customer", customer_id),
            "points": points,
            "reason": "goodwill",
            "idempotencyKey": key,
        }
    }


@pytest_asyncio.fixture(loop_scope="session")
async def own_redis(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    redis = start_redis(tmp_path)
    try:
        yield redis
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)
        redis.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def hung_redis_resources(
    settings: Settings, own_redis: EmbeddedRedis
) -> AsyncIterator[Resources]:
    async with open_resources(settings.model_copy(update={"redis_url": own_redis.url})) as opened:
        yield opened


def client(resources: Resources, name: str) -> httpx.AsyncClient:
    schema, loaders = {
        "points": (points_schema, build_points_loaders),
        "analytics": (analytics_schema, build_analytics_loaders),
    }[name]
    app = create_subgraph_app(
        name=name, schema=schema, loaders_factory=loaders, resources=resources
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://subgraph")


async def test_a_hung_redis_neither_stalls_a_write_nor_a_cached_read(
    hung_redis_resources: Resources, own_redis: EmbeddedRedis, tenant: Tenant
) -> None:
    resources = hung_redis_resources
    customer_id = await add_customer(resources, tenant, points=10)
    representations = {"r": [{"__typename": "Merchant", "id": gid("Merchant", tenant.merchant_id)}]}
    async with client(resources, "points") as points, client(resources, "analytics") as analytics:
        points_client, analytics_client = SubgraphClient(points), SubgraphClient(analytics)
        # The same work with Redis answering, timed in the same run: the bounds below are on
        # top of it, so a loaded machine does not fail the test, and a stall still does.
        started = time.monotonic()
        baseline = await points_client.execute(
            ADJUST, adjustment(customer_id, 1, f"baseline:{customer_id}"), tenant=tenant
        )
        baseline_mutation_seconds = time.monotonic() - started
        assert baseline["data"]["pointsAdjust"]["userErrors"] == [], baseline
        warm = await analytics_client.execute(METRICS, representations, tenant=tenant)
        started = time.monotonic()
        warm = await analytics_client.execute(METRICS, representations, tenant=tenant)
        baseline_read_seconds = time.monotonic() - started
        assert warm["data"]["_entities"][0]["loyaltyMetrics"]["pointsIssued"] == "11"

        os.kill(own_redis.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            # Without bounded Redis calls this waits forever (the post-commit publish): fail then,
            # rather than hang the suite.
            async with asyncio.timeout(10):
                adjusted = await points_client.execute(
                    ADJUST, adjustment(customer_id, 5, f"hung:{customer_id}"), tenant=tenant
                )
            mutation_seconds = time.monotonic() - started

            started = time.monotonic()
            read = await analytics_client.execute(METRICS, representations, tenant=tenant)
            read_seconds = time.monotonic() - started
        finally:
            # Resumed before anything closes its connections to it.
            os.kill(own_redis.process.pid, signal.SIGCONT)

    assert adjusted["data"]["pointsAdjust"] == {
        "customer": {"pointsBalance": "16"},
        "userErrors": [],
    }, adjusted
    assert mutation_seconds < baseline_mutation_seconds + 1.0, mutation_seconds
    # The read skips the cache it cannot reach and answers from Postgres: the new total.
    assert read["data"]["_entities"][0]["loyaltyMetrics"]["pointsIssued"] == "16", read
    assert read_seconds < baseline_read_seconds + 0.2, read_seconds
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalar(
            select(func.count()).where(PointsTransaction.customer_id == customer_id)
        )
    assert rows == 3  # the opening balance and the two adjustments, each committed once
