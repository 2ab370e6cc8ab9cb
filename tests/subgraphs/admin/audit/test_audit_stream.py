"""auditLogAppended over a real WebSocket: audit entries committed by any session (announced
by Postgres NOTIFY) and webhook inbox events (published on Redis)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import pytest
import pytest_asyncio
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect

from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.admin.audit.service import (
    LISTENER_APPLICATION_NAME,
    AuditLogListener,
    audit_log_listener,
)
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.pubsub import webhook_channel
from subgraphs.kit.repository import insert_audit_log
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, served_subgraph

SUBSCRIPTION = """
subscription($actions: [AuditAction!]) {
  auditLogAppended(actions: $actions) { id action actorId metadata createdAt }
}
"""


@pytest_asyncio.fixture(loop_scope="session")
async def admin_ws_url(resources: Resources) -> AsyncIterator[str]:
    async with served_subgraph("admin", resources) as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def listener(resources: Resources) -> AuditLogListener:
    assert resources.settings.database_url
    return audit_log_listener(resources.settings.database_url)


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(10):
        while not await check():
            await asyncio.sleep(0.02)


async def subscribe(
    url: str, resources: Resources, listener: AuditLogListener, tenant: Tenant, **variables: Any
) -> ClientConnection:
    """A socket whose subscription is live on both sources when this returns."""
    socket = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await socket.send(
        json.dumps(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
        )
    )
    assert (await next_message(socket))["type"] == "connection_ack"
    before = listener.subscriber_count(tenant.merchant_id)
    await socket.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIPTION, "variables": variables},
            }
        )
    )

    async def live() -> bool:
        [(_, redis_subscribers)] = await resources.redis.pubsub_numsub(
            webhook_channel(tenant.merchant_id)
        )
        return listener.subscriber_count(tenant.merchant_id) > before and redis_subscribers > 0

    await eventually(live)
    return socket


async def next_message(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
    return message


async def next_event(socket: ClientConnection) -> dict[str, Any]:
    message = await next_message(socket)
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    event: dict[str, Any] = message["payload"]["data"]["auditLogAppended"]
    return event


async def audit(
    resources: Resources, tenant: Tenant, action: AuditAction, actor_id: str | None = None
) -> None:
    """Committed by a session of its own, as any writer would."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await insert_audit_log(
            session,
            merchant_id=tenant.merchant_id,
            action=action,
            actor_id=actor_id,
            metadata={"note": action},
        )


async def assert_silent(socket: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(socket.recv(), timeout=0.5)


async def test_streams_the_merchants_audit_entries_and_webhook_events(
    admin_ws_url: str,
    resources: Resources,
    listener: AuditLogListener,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    socket = await subscribe(
        admin_ws_url,
        resources,
        listener,
        tenant,
        actions=["POINTS_ADJUSTED", "WEBHOOK_DONE"],
    )
    try:
        # NOTIFYs arrive in commit order and Redis messages in publish order: when the wanted
        # one arrives, the unwanted ones before it have been passed over.
        await audit(resources, other_tenant, AuditAction.POINTS_ADJUSTED)
        await audit(resources, tenant, AuditAction.REWARD_CREATED)
        await audit(resources, tenant, AuditAction.POINTS_ADJUSTED, actor_id="42")
        entry = await next_event(socket)
        assert entry["action"] == "POINTS_ADJUSTED"
        assert entry["actorId"] == "42"
        assert entry["metadata"] == {"note": "points_adjusted"}

        channel = webhook_channel(tenant.merchant_id)
        await resources.pubsub.publish(
            webhook_channel(other_tenant.merchant_id), {"event": "done", "deliveryId": "theirs"}
        )
        await resources.pubsub.publish(
            channel, {"event": "received", "deliveryId": "d-1", "topic": "orders/create"}
        )
        await resources.pubsub.publish(
            channel,
            {
                "event": "done",
                "deliveryId": "d-1",
                "topic": "orders/create",
                "status": "done",
                "attempts": 1,
                "error": None,
                "outcome": "applied",
                "internal": "not for subscribers",
            },
        )
        done = await next_event(socket)
        assert done["action"] == "WEBHOOK_DONE"
        assert done["actorId"] is None
        assert done["metadata"] == {
            "deliveryId": "gid://loyalnest/WebhookDelivery/d-1",
            "topic": "orders/create",
            "status": "done",
            "attempts": 1,
            "error": None,
            "outcome": "applied",
        }
        await assert_silent(socket)
    finally:
        await socket.close()


async def test_without_actions_everything_of_the_merchant_streams(
    admin_ws_url: str, resources: Resources, listener: AuditLogListener, tenant: Tenant
) -> None:
    socket = await subscribe(admin_ws_url, resources, listener, tenant)
    try:
        await resources.pubsub.publish(
            webhook_channel(tenant.merchant_id),
            {"event": "failed", "deliveryId": "d-2", "status": "failed", "error": "boom"},
        )
        failed = await next_event(socket)
        # A stored action the API does not know (an old row) is passed over, not an error.
        await audit(resources, tenant, cast(AuditAction, "retired_action"))
        await audit(resources, tenant, AuditAction.REWARD_CREATED)
        created = await next_event(socket)

        assert failed["action"] == "WEBHOOK_FAILED"
        assert failed["metadata"]["error"] == "boom"
        assert created["action"] == "REWARD_CREATED"
        # The two kinds of event say which they are: a stored entry, or a live-only notice.
        assert created["id"].startswith("gid://loyalnest/AuditLogEvent/")
        assert failed["id"].startswith("gid://loyalnest/WebhookInboxEvent/")
    finally:
        await socket.close()


async def test_subscribers_share_one_connection_that_closes_when_the_last_leaves(
    admin_ws_url: str,
    resources: Resources,
    listener: AuditLogListener,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    first = await subscribe(admin_ws_url, resources, listener, tenant)
    second = await subscribe(admin_ws_url, resources, listener, other_tenant)
    try:
        assert await listening_backends(resources) == 1
    finally:
        await first.close()
        await second.close()

    async def idle() -> bool:
        return not listener.connected and await listening_backends(resources) == 0

    await eventually(idle)
    assert listener.subscriber_count(tenant.merchant_id) == 0


async def test_the_listener_reconnects_when_its_connection_drops(
    admin_ws_url: str, resources: Resources, listener: AuditLogListener, tenant: Tenant
) -> None:
    socket = await subscribe(admin_ws_url, resources, listener, tenant)
    try:
        [old_pid] = await listening_pids(resources)
        async with system_unit_of_work(resources.sessions) as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": old_pid})

        async def replaced() -> bool:
            pids = await listening_pids(resources)
            return len(pids) == 1 and pids[0] != old_pid and listener.connected

        await eventually(replaced)
        await audit(resources, tenant, AuditAction.REWARD_UPDATED)
        assert (await next_event(socket))["action"] == "REWARD_UPDATED"
    finally:
        await socket.close()


async def listening_pids(resources: Resources) -> list[int]:
    async with system_unit_of_work(resources.sessions) as session:
        result = await session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
            {"name": LISTENER_APPLICATION_NAME},
        )
        return list(result)


async def listening_backends(resources: Resources) -> int:
    return len(await listening_pids(resources))
