"""The live admin stream: audit entries announced by Postgres, and webhook inbox events
published on Redis, merged per merchant.

Postgres announces each committed audit entry on one NOTIFY channel for all merchants, so a
process holds ONE listening connection, shared by all its subscribers: the notices are
fanned out to per-subscriber queues by merchant. The connection is opened by the first
subscriber, closed when the last one leaves, checked by a heartbeat and reopened when it
drops. Notices are notifications, not data: one missed while reconnecting is not replayed.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
import orjson
import stamina
import structlog
from redis.exceptions import RedisError

from db.ids import new_id
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.pubsub import AUDIT_LOG_NOTIFY_CHANNEL, webhook_channel
from subgraphs.kit.resources import Resources

log = structlog.get_logger(__name__)

# Shows in pg_stat_activity, so operators can tell the listener from pooled connections.
LISTENER_APPLICATION_NAME: Final = "loyalnest-audit-listener"
_QUEUE_SIZE: Final = 256
_CONNECT_TIMEOUT_SECONDS: Final = 10.0
_CONNECTION_ERRORS: Final = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
_EVENT_NAME = re.compile(r"[a-z_]{1,32}")
# What a webhook event may tell subscribers; anything else a publisher adds stays private.
_WEBHOOK_KEYS: Final = ("deliveryId", "topic", "status", "attempts", "error")
_WEBHOOK_OPTIONAL_KEYS: Final = ("outcome", "detail")


@dataclass(frozen=True, slots=True)
class AuditLogNotice:
    """An audit entry was committed; its row is read by whoever wants it."""

    merchant_id: str
    id: str
    created_at: datetime

    @classmethod
    def parse(cls, payload: str) -> AuditLogNotice | None:
        try:
            notice = orjson.loads(payload)
            return cls(
                merchant_id=str(notice["merchant_id"]),
                id=str(notice["id"]),
                created_at=datetime.fromisoformat(str(notice["created_at"])),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A webhook inbox event as published by the shim and the worker."""

    action: AuditAction
    metadata: dict[str, Any]
    id: str = field(default_factory=new_id)
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> WebhookEvent | None:
        event = payload.get("event")
        if not isinstance(event, str) or not _EVENT_NAME.fullmatch(event):
            return None
        metadata = {key: payload.get(key) for key in _WEBHOOK_KEYS}
        metadata |= {key: payload[key] for key in _WEBHOOK_OPTIONAL_KEYS if key in payload}
        try:
            action = AuditAction(f"webhook_{event}")
        except ValueError:
            return None  # not an inbox event the API knows
        return cls(action=action, metadata=metadata)


LiveEvent = AuditLogNotice | WebhookEvent


def asyncpg_dsn(database_url: str) -> str:
    """asyncpg wants a plain libpq URL, not SQLAlchemy's ``postgresql+asyncpg://``."""
    scheme, separator, rest = database_url.partition("://")
    if separator and scheme.startswith(("postgresql+", "postgres+")):
        return f"postgresql://{rest}"
    return database_url


class AuditLogListener:
    def __init__(self, dsn: str, *, heartbeat_seconds: float = 30.0) -> None:
        self._dsn = dsn
        self._heartbeat_seconds = heartbeat_seconds
        self._subscribers: dict[str, set[asyncio.Queue[LiveEvent]]] = {}
        self._connection: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._lost = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    def subscriber_count(self, merchant_id: str) -> int:
        return len(self._subscribers.get(merchant_id, ()))

    @property
    def connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed()

    @asynccontextmanager
    async def subscribe(self, merchant_id: str) -> AsyncIterator[asyncio.Queue[LiveEvent]]:
        """A queue receiving the merchant's notices until the block exits. Registered before
        the connection is opened, so a last subscriber leaving meanwhile cannot close it."""
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=_QUEUE_SIZE)
        queues = self._subscribers.setdefault(merchant_id, set())
        queues.add(queue)
        try:
            await self._connect()
            if self._supervisor is None or self._supervisor.done():
                self._supervisor = asyncio.create_task(self._supervise())
            yield queue
        finally:
            queues.discard(queue)
            if not queues and self._subscribers.get(merchant_id) is queues:
                del self._subscribers[merchant_id]
            if not self._subscribers:
                await self._close_if_idle()

    async def _connect(self) -> None:
        async with self._lock:
            if self.connected:
                return
            connection = await asyncpg.connect(
                self._dsn,
                timeout=_CONNECT_TIMEOUT_SECONDS,
                server_settings={"application_name": LISTENER_APPLICATION_NAME},
            )
            try:
                await connection.add_listener(AUDIT_LOG_NOTIFY_CHANNEL, self._on_notification)
            except BaseException:
                connection.terminate()
                raise
            connection.add_termination_listener(self._on_termination)
            self._connection = connection
            self._lost.clear()

    async def _close_if_idle(self) -> None:
        async with self._lock:
            if self._subscribers:
                return
            connection, self._connection = self._connection, None
            supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with suppress(asyncio.CancelledError):
                await supervisor
        if connection is not None:
            try:
                await connection.close(timeout=_CONNECT_TIMEOUT_SECONDS)
            except _CONNECTION_ERRORS:
                connection.terminate()

    def _on_notification(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        notice = AuditLogNotice.parse(payload)
        if notice is None:
            log.warning("audit_notice_unreadable", payload=payload[:200])
            return
        for queue in self._subscribers.get(notice.merchant_id, ()):
            offer(queue, notice)

    def _on_termination(self, connection: object) -> None:
        if connection is self._connection:
            self._connection = None
            self._lost.set()
            log.warning("audit_listener_lost")

    async def _supervise(self) -> None:
        """While anyone listens: reconnect at once when the connection drops, and ping it
        every heartbeat, because a silently dead socket never reports its own death."""
        while self._subscribers:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), timeout=self._heartbeat_seconds)
            connection = self._connection
            if connection is None or connection.is_closed():
                await self._reconnect()
                continue
            try:
                await connection.fetchval("SELECT 1", timeout=_CONNECT_TIMEOUT_SECONDS)
            except _CONNECTION_ERRORS:
                connection.terminate()  # reported to _on_termination

    async def _reconnect(self) -> None:
        async for attempt in stamina.retry_context(
            on=_CONNECTION_ERRORS, attempts=None, timeout=None, wait_max=10.0
        ):
            with attempt:
                if not self._subscribers:
                    return
                await self._connect()
                log.info("audit_listener_reconnected")


def offer(queue: asyncio.Queue[LiveEvent], event: LiveEvent) -> None:
    """A subscriber too slow to keep up loses events rather than stalling everyone else's."""
    try:
        queue.put_nowait(event)
    except asyncio.QueueFull:
        log.warning("live_event_dropped", event=type(event).__name__)


# One listener per event loop (in practice, per process): asyncpg connections belong to a loop.
_listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AuditLogListener]] = (
    weakref.WeakKeyDictionary()
)


def audit_log_listener(database_url: str) -> AuditLogListener:
    dsn = asyncpg_dsn(database_url)
    by_dsn = _listeners.setdefault(asyncio.get_running_loop(), {})
    listener = by_dsn.get(dsn)
    if listener is None:
        listener = by_dsn[dsn] = AuditLogListener(dsn)
    return listener


@asynccontextmanager
async def admin_events(
    resources: Resources, merchant_id: str
) -> AsyncIterator[AsyncIterator[LiveEvent]]:
    """The merchant's audit notices and webhook events, in arrival order, until the block
    exits. Without Redis, the audit notices still flow."""
    assert resources.settings.database_url, "resources are opened with a database"
    listener = audit_log_listener(resources.settings.database_url)
    async with AsyncExitStack() as stack:
        queue = await stack.enter_async_context(listener.subscribe(merchant_id))
        try:
            published = await stack.enter_async_context(
                resources.pubsub.subscribe(webhook_channel(merchant_id))
            )
        except (RedisError, OSError) as exc:
            log.warning("webhook_events_unavailable", error=str(exc))
        else:

            async def forward() -> None:
                async for payload in published:
                    event = WebhookEvent.parse(payload) if isinstance(payload, dict) else None
                    if event is None:
                        log.warning("webhook_event_unreadable", merchant_id=merchant_id)
                        continue
                    offer(queue, event)

            forwarding = asyncio.create_task(forward())
            stack.push_async_callback(_stop, forwarding)

        async def events() -> AsyncIterator[LiveEvent]:
            while True:
                yield await queue.get()

        yield events()


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
