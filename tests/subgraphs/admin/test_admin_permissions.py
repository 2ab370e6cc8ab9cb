"""Who may read the webhook inbox, retry deliveries, read GDPR requests and stream the audit
trail: merchants and staff whose roles grant it, after MFA; never customers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from gateway.edge.auth.tokens import mint_customer_token, mint_staff_token
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant, add_customer
from tests.ids import gid
from tests.subgraphs.admin.audit.test_audit_stream import SUBSCRIPTION, admin_ws_url, next_message
from tests.subgraphs.admin.deliveries.test_webhook_admin import (
    DELIVERIES,
    GDPR_REQUESTS,
    RETRY,
    audit_entries,
)
from tests.subgraphs.admin.inbox_helpers import add_delivery

__all__ = ["admin_ws_url"]  # the WebSocket server fixture, shared with the stream tests


def staff_headers(
    resources: Resources, tenant: Tenant, *roles: str, mfa: bool = True
) -> dict[str, str]:
    token = mint_staff_token(
        shop_domain=tenant.shop_domain,
        staff_id="s-1",
        roles=roles,
        secret=resources.settings.staff_token_secret,
        mfa=mfa,
    )
    return {"authorization": f"Bearer {token}"}


def codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors", [])]


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        (DELIVERIES, {}, "webhookDeliveries"),
        (GDPR_REQUESTS, {}, "gdprRequests"),
        (RETRY, {"input": {"id": "x"}}, "webhookRetry"),
    ],
)
async def test_analytics_staff_and_staff_without_mfa_are_forbidden(
    admin_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    query: str,
    variables: dict[str, Any],
    field: str,
) -> None:
    analyst = await admin_client.execute(
        query, variables, headers=staff_headers(resources, tenant, "admin:analytics")
    )
    no_mfa = await admin_client.execute(
        query, variables, headers=staff_headers(resources, tenant, "admin:full", mfa=False)
    )

    assert codes(analyst) == ["FORBIDDEN"]
    assert codes(no_mfa) == ["FORBIDDEN"]
    assert "multi-factor" in no_mfa["errors"][0]["message"]


async def test_customers_cannot_read_the_inbox(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)
    token = mint_customer_token(
        shop_domain=tenant.shop_domain,
        customer_id=customer_id,
        secret=resources.settings.token_secret,
    )

    result = await admin_client.execute(DELIVERIES, headers={"authorization": f"Bearer {token}"})

    assert codes(result) == ["FORBIDDEN"]


async def test_support_staff_read_and_retry_in_the_shop_they_act_on(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    failed = await add_delivery(resources, tenant, status="failed", attempts=3)
    await add_delivery(resources, other_tenant, status="failed")
    support = staff_headers(resources, tenant, "admin:support")

    listed = await admin_client.execute(DELIVERIES, headers=support)
    retried = await admin_client.execute(
        RETRY, {"input": {"id": gid("WebhookDelivery", failed)}}, headers=support
    )
    gdpr = await admin_client.execute(GDPR_REQUESTS, headers=support)

    listed_ids = [edge["node"]["id"] for edge in listed["data"]["webhookDeliveries"]["edges"]]
    assert listed_ids == [gid("WebhookDelivery", failed)]
    assert retried["data"]["webhookRetry"]["delivery"]["status"] == "PENDING"
    [entry] = await audit_entries(resources, tenant, "webhook_retry")
    assert entry.actor_id == "staff:s-1"
    assert "errors" not in gdpr


async def test_a_socket_without_read_audit_log_gets_forbidden(
    admin_ws_url: str, resources: Resources, tenant: Tenant
) -> None:
    token = staff_headers(resources, tenant, "admin:analytics")["authorization"]
    async with connect(admin_ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": token}})
        )
        assert (await next_message(socket))["type"] == "connection_ack"
        await socket.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        )

        message = await next_message(socket)

    assert message["type"] == "next"
    assert message["payload"]["data"] is None
    assert [error["extensions"]["code"] for error in message["payload"]["errors"]] == ["FORBIDDEN"]
