"""The router's own metrics on its /metrics, as Prometheus scrapes them: each request it
served, by operation, and each call it made to a subgraph, by subgraph."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, add_customer
from tests.e2e.conftest import Router

QUERY = "query RouterMetricsProbe { customers(first: 1) { nodes { id pointsBalance } } }"


def count(text: str, metric: str, **labels: str) -> float:
    """The sum of ``metric``'s _count samples whose labels include ``labels``."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == f"{metric}_count"
        and all(sample.labels.get(name) == value for name, value in labels.items())
    )


async def test_the_router_counts_requests_and_subgraph_calls(
    router: Router, resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, points=5)
    metrics_url = router.url.removesuffix("/graphql") + "/metrics"
    async with httpx.AsyncClient(timeout=15) as client:
        before = await client.get(metrics_url)
        answer = await client.post(router.url, json={"query": QUERY}, headers=tenant.headers)
        after = await client.get(metrics_url)

    assert answer.status_code == 200
    assert "errors" not in answer.json(), answer.text
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    request = "graphql_envelop_request_duration"
    assert count(after.text, request, operationName="RouterMetricsProbe") == 1
    subgraph_call = "graphql_gateway_subgraph_execute_duration"
    calls_to_points = count(after.text, subgraph_call, subgraphName="points") - count(
        before.text, subgraph_call, subgraphName="points"
    )
    assert calls_to_points == 1
