"""The admin subgraph's connections (webhook deliveries, GDPR requests) paged forwards and
backwards across monthly partitions, reversed, with a full pageInfo, refusing oversized pages
and mixed directions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, SubgraphClient, Tenant
from tests.subgraphs.admin.inbox_helpers import add_delivery, add_gdpr_request
from tests.subgraphs.connection_helpers import (
    ARGUMENTS,
    ARGUMENTS_DECLARED,
    SELECTION,
    Fetch,
    check_connection,
)

DELIVERIES = f"""
query({ARGUMENTS_DECLARED}, $status: WebhookDeliveryStatus) {{
  webhookDeliveries({ARGUMENTS}, status: $status) {{ {SELECTION} }}
}}
"""
GDPR_REQUESTS = f"""
query({ARGUMENTS_DECLARED}) {{ gdprRequests({ARGUMENTS}) {{ {SELECTION} }} }}
"""


def fetcher(client: SubgraphClient, tenant: Tenant, query: str, **fixed: Any) -> Fetch:
    async def fetch(variables: dict[str, Any]) -> dict[str, Any]:
        return await client.execute(query, {**fixed, **variables}, tenant=tenant)

    return fetch


async def test_deliveries_page_both_ways_across_monthly_partitions(
    admin_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    now = datetime.now(UTC)
    # Newest first, over next month's partition and this month's.
    times = [
        now + timedelta(days=32),
        now,
        now - timedelta(minutes=1),
        now - timedelta(minutes=2),
        now - timedelta(minutes=3),
    ]
    expected = [await add_delivery(resources, tenant, created_at=at) for at in times]
    fetch = fetcher(admin_client, tenant, DELIVERIES)

    await check_connection(fetch, ["webhookDeliveries"], expected)
    await check_connection(
        fetcher(admin_client, tenant, DELIVERIES, status="PENDING"),
        ["webhookDeliveries"],
        expected,
    )
    count_statements.statements.clear()
    await fetch({"last": 2})
    assert count_statements.count == 1  # backwards too: one page, one statement


async def test_gdpr_requests_page_both_ways(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    now = datetime.now(UTC)
    kinds = ["data_request", "customer_redact", "data_request", "shop_redact", "data_request"]
    created = [
        await add_gdpr_request(
            resources, tenant, request_type=kind, created_at=now - timedelta(hours=n)
        )
        for n, kind in enumerate(kinds)
    ]

    await check_connection(fetcher(admin_client, tenant, GDPR_REQUESTS), ["gdprRequests"], created)
