"""The webhook inbox and GDPR requests as the admin subgraph serves them, and retrying a
failed delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from db.models import ApiLog, AuditLog
from db.session import system_unit_of_work
from subgraphs.kit.jobs import PROCESS_WEBHOOK_DELIVERY, job_queue
from subgraphs.kit.resources import Resources
from tests.conftest import StatementCounter, SubgraphClient, Tenant
from tests.ids import gid, row_id
from tests.subgraphs.admin.inbox_helpers import add_delivery, add_gdpr_request

DELIVERIES = """
query($status: WebhookDeliveryStatus, $topic: WebhookTopic, $first: Int, $after: String) {
  webhookDeliveries(status: $status, topic: $topic, first: $first, after: $after) {
    edges { cursor node { id topic status attempts lastError payloadBytes receivedAt
                          nextAttemptAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
RETRY = """
mutation($input: WebhookRetryInput!) {
  webhookRetry(input: $input) {
    delivery { id status attempts lastError nextAttemptAt }
    userErrors { field message code }
  }
}
"""
GDPR_REQUESTS = """
query($type: GdprRequestType, $first: Int, $after: String) {
  gdprRequests(type: $type, first: $first, after: $after) {
    edges { node { id type status shopifyCustomerId createdAt completedAt
                   retentionExpiresAt error } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def delivery_ids(
    client: SubgraphClient, tenant: Tenant, **variables: Any
) -> tuple[list[str], dict[str, Any]]:
    result = await client.execute(DELIVERIES, variables, tenant=tenant)
    assert "errors" not in result, result
    connection = result["data"]["webhookDeliveries"]
    return [row_id(edge["node"]["id"]) for edge in connection["edges"]], connection["pageInfo"]


async def delivery_row(resources: Resources, delivery_id: str) -> ApiLog:
    async with system_unit_of_work(resources.sessions) as session:
        row = await session.scalar(select(ApiLog).where(ApiLog.id == delivery_id))
    assert row is not None
    return row


async def audit_entries(resources: Resources, tenant: Tenant, action: str) -> list[AuditLog]:
    async with system_unit_of_work(resources.sessions) as session:
        rows = await session.scalars(
            select(AuditLog).where(
                AuditLog.merchant_id == tenant.merchant_id, AuditLog.action == action
            )
        )
        return list(rows)


async def queued_deliveries(resources: Resources) -> list[tuple[Any, ...]]:
    jobs = await job_queue(resources.redis).queued_jobs()
    return [tuple(job.args) for job in jobs if job.function == PROCESS_WEBHOOK_DELIVERY]


async def test_deliveries_page_newest_first_across_monthly_partitions(
    admin_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    count_statements: StatementCounter,
) -> None:
    now = datetime.now(UTC)
    # Next month's partition holds the newest; the cursor must carry over to this month's.
    times = [now + timedelta(days=32), now, now - timedelta(minutes=1), now - timedelta(minutes=2)]
    expected = [await add_delivery(resources, tenant, created_at=at) for at in times]

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        ids, page_info = await delivery_ids(admin_client, tenant, first=1 + pages % 2, after=after)
        seen += ids
        pages += 1
        if not page_info["hasNextPage"]:
            break
        after = page_info["endCursor"]

    assert seen == expected
    assert pages == 3
    count_statements.statements.clear()
    await delivery_ids(admin_client, tenant, first=10)
    assert count_statements.count == 1  # one page, one statement


async def test_deliveries_filter_by_status_and_topic(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    failed_order = await add_delivery(
        resources, tenant, status="failed", attempts=3, last_error="KeyError: 'line_items'"
    )
    await add_delivery(resources, tenant, status="done", attempts=1)
    failed_customer = await add_delivery(
        resources, tenant, topic="customers/update", status="failed", attempts=3
    )

    failed, _ = await delivery_ids(admin_client, tenant, status="FAILED")
    failed_orders, _ = await delivery_ids(
        admin_client, tenant, status="FAILED", topic="ORDERS_CREATE"
    )
    failed_customers, _ = await delivery_ids(
        admin_client, tenant, status="FAILED", topic="CUSTOMERS_UPDATE"
    )
    result = await admin_client.execute(
        DELIVERIES, {"status": "FAILED", "topic": "ORDERS_CREATE"}, tenant=tenant
    )

    assert failed == [failed_customer, failed_order]
    assert failed_orders == [failed_order]
    assert failed_customers == [failed_customer]
    node = result["data"]["webhookDeliveries"]["edges"][0]["node"]
    # Topics are the WebhookTopic enum (Shopify's ORDERS_CREATE style), no longer orders/create.
    assert node["topic"] == "ORDERS_CREATE"
    assert node["status"] == "FAILED"
    assert node["attempts"] == 3
    assert node["lastError"] == "KeyError: 'line_items'"
    assert node["payloadBytes"] > 0


async def test_the_payload_is_not_part_of_the_schema(admin_client: SubgraphClient) -> None:
    result = await admin_client.execute('{ __type(name: "WebhookDelivery") { fields { name } } }')

    names = {field["name"] for field in result["data"]["__type"]["fields"]}
    assert not {name for name in names if "payload" in name.lower()} - {"payloadBytes"}


async def test_another_merchants_deliveries_are_invisible(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = await add_delivery(resources, tenant)
    await add_delivery(resources, other_tenant)

    ids, _ = await delivery_ids(admin_client, tenant)

    assert ids == [mine]


async def test_an_invalid_cursor_is_bad_user_input(
    admin_client: SubgraphClient, tenant: Tenant
) -> None:
    result = await admin_client.execute(DELIVERIES, {"after": "bm90LWEtY3Vyc29y"}, tenant=tenant)

    assert [error["extensions"]["code"] for error in result["errors"]] == ["BAD_USER_INPUT"]


async def test_retrying_a_failed_delivery_reopens_it_audits_and_enqueues(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    delivery_id = await add_delivery(
        resources, tenant, status="failed", attempts=3, last_error="TimeoutError"
    )

    result = await admin_client.execute(
        RETRY, {"input": {"id": gid("WebhookDelivery", delivery_id)}}, tenant=tenant
    )

    payload = result["data"]["webhookRetry"]
    assert payload["userErrors"] == []
    assert payload["delivery"]["id"] == gid("WebhookDelivery", delivery_id)
    assert payload["delivery"]["status"] == "PENDING"
    assert payload["delivery"]["attempts"] == 0
    assert payload["delivery"]["lastError"] == "TimeoutError"
    row = await delivery_row(resources, delivery_id)
    assert payload["delivery"]["nextAttemptAt"] == row.next_attempt_at.isoformat()
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.next_attempt_at <= datetime.now(UTC)
    assert row.payload_encrypted is not None
    [entry] = await audit_entries(resources, tenant, "webhook_retry")
    assert entry.actor_id == "1"
    assert entry.metadata_ == {
        "deliveryId": delivery_id,
        "topic": "orders/create",
        "previousAttempts": 3,
        "previousError": "TimeoutError",
    }
    assert (tenant.merchant_id, delivery_id) in await queued_deliveries(resources)


@pytest.mark.parametrize("status", ["done", "pending"])
async def test_only_failed_deliveries_can_be_retried(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant, status: str
) -> None:
    delivery_id = await add_delivery(resources, tenant, status=status, attempts=1)

    result = await admin_client.execute(
        RETRY, {"input": {"id": gid("WebhookDelivery", delivery_id)}}, tenant=tenant
    )

    payload = result["data"]["webhookRetry"]
    assert payload["delivery"] is None
    [error] = payload["userErrors"]
    assert error["code"] == "NOT_RETRYABLE"
    assert error["field"] == ["input", "id"]
    assert status in error["message"]
    row = await delivery_row(resources, delivery_id)
    assert (row.status, row.attempts) == (status, 1)
    assert await audit_entries(resources, tenant, "webhook_retry") == []
    assert (tenant.merchant_id, delivery_id) not in await queued_deliveries(resources)


async def test_a_redacted_delivery_cannot_be_retried(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    delivery_id = await add_delivery(resources, tenant, status="failed", redacted=True)

    result = await admin_client.execute(
        RETRY, {"input": {"id": gid("WebhookDelivery", delivery_id)}}, tenant=tenant
    )

    [error] = result["data"]["webhookRetry"]["userErrors"]
    assert error["code"] == "NOT_RETRYABLE"
    assert "redact" in error["message"]
    assert (await delivery_row(resources, delivery_id)).status == "failed"


async def test_another_merchants_delivery_cannot_be_retried(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await add_delivery(resources, other_tenant, status="failed", attempts=3)

    result = await admin_client.execute(
        RETRY, {"input": {"id": gid("WebhookDelivery", theirs)}}, tenant=tenant
    )

    [error] = result["data"]["webhookRetry"]["userErrors"]
    assert error["code"] == "NOT_FOUND"
    assert (await delivery_row(resources, theirs)).status == "failed"
    assert await audit_entries(resources, other_tenant, "webhook_retry") == []


async def test_gdpr_requests_newest_first_filtered_by_type(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    now = datetime.now(UTC)
    oldest = await add_gdpr_request(
        resources, tenant, request_type="data_request", created_at=now - timedelta(hours=2)
    )
    redact = await add_gdpr_request(
        resources,
        tenant,
        request_type="customer_redact",
        status="completed",
        created_at=now - timedelta(hours=1),
    )
    newest = await add_gdpr_request(
        resources, tenant, request_type="data_request", status="failed", created_at=now
    )
    await add_gdpr_request(resources, other_tenant, request_type="data_request", created_at=now)

    everything = await admin_client.execute(GDPR_REQUESTS, {"first": 2}, tenant=tenant)
    rest = await admin_client.execute(
        GDPR_REQUESTS,
        {"after": everything["data"]["gdprRequests"]["pageInfo"]["endCursor"]},
        tenant=tenant,
    )
    data_requests = await admin_client.execute(
        GDPR_REQUESTS, {"type": "DATA_REQUEST"}, tenant=tenant
    )

    first_page = everything["data"]["gdprRequests"]
    assert [row_id(edge["node"]["id"]) for edge in first_page["edges"]] == [newest, redact]
    assert first_page["pageInfo"]["hasNextPage"] is True
    assert [row_id(e["node"]["id"]) for e in rest["data"]["gdprRequests"]["edges"]] == [oldest]
    nodes = [edge["node"] for edge in data_requests["data"]["gdprRequests"]["edges"]]
    assert [row_id(node["id"]) for node in nodes] == [newest, oldest]
    assert nodes[0]["type"] == "DATA_REQUEST"
    assert nodes[0]["status"] == "FAILED"
    assert nodes[0]["shopifyCustomerId"] == "7001"
    assert nodes[0]["retentionExpiresAt"] > nodes[0]["createdAt"]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (DELIVERIES, {}),
        (GDPR_REQUESTS, {}),
        (RETRY, {"input": {"id": "x"}}),
    ],
)
async def test_every_admin_field_needs_a_token(
    admin_client: SubgraphClient, query: str, variables: dict[str, Any]
) -> None:
    result = await admin_client.execute(query, variables)

    assert [error["extensions"]["code"] for error in result["errors"]] == ["UNAUTHENTICATED"]


async def test_a_data_requests_export_is_readable_and_other_requests_have_none(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    now = datetime.now(UTC)
    export = {"format": "loyalnest.gdpr_export.v1", "data_held": False, "customers": []}
    await add_gdpr_request(
        resources, tenant, request_type="data_request", created_at=now, export=export
    )
    await add_gdpr_request(
        resources, tenant, request_type="customer_redact", created_at=now - timedelta(minutes=1)
    )
    await add_gdpr_request(
        resources, tenant, request_type="data_request", created_at=now - timedelta(minutes=2)
    )

    result = await admin_client.execute(
        "{ gdprRequests { edges { node { type export } } } }", tenant=tenant
    )

    assert "errors" not in result, result
    assert [edge["node"] for edge in result["data"]["gdprRequests"]["edges"]] == [
        {"type": "DATA_REQUEST", "export": export},
        {"type": "CUSTOMER_REDACT", "export": None},
        {"type": "DATA_REQUEST", "export": None},  # erased by a later redact
    ]


async def test_the_next_attempt_is_null_once_a_delivery_is_done_or_failed_for_good(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    pending = await add_delivery(resources, tenant, status="pending", attempts=1)
    done = await add_delivery(resources, tenant, status="done", attempts=1)
    failed = await add_delivery(resources, tenant, status="failed", attempts=3)

    result = await admin_client.execute(DELIVERIES, {}, tenant=tenant)

    assert "errors" not in result, result
    due = {
        row_id(edge["node"]["id"]): edge["node"]["nextAttemptAt"]
        for edge in result["data"]["webhookDeliveries"]["edges"]
    }
    pending_row = await delivery_row(resources, pending)
    assert due == {pending: pending_row.next_attempt_at.isoformat(), done: None, failed: None}


async def test_every_topic_the_worker_handles_is_a_webhook_topic() -> None:
    from subgraphs.admin.deliveries.service import WebhookTopic
    from worker.webhooks.topics import SUPPORTED_TOPICS

    assert {topic.value for topic in WebhookTopic} == SUPPORTED_TOPICS
