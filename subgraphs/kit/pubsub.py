"""Live events between processes: a thin typed layer over broadcaster (Redis pub/sub).

Events are notifications, never data of record: a subscriber that misses one re-reads
Postgres on the next, and a publish that fails never fails the write that caused it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
import structlog
from broadcaster import Broadcast
from broadcaster._base import Unsubscribed
from redis.asyncio import Redis

from subgraphs.kit.redis_calls import RedisCalls, RedisUnavailable

log = structlog.get_logger(__name__)


def ledger_channel(merchant_id: str) -> str:
    return f"loyalnest:ledger:{merchant_id}"


def segments_channel(merchant_id: str) -> str:
    """One merchant's RFM segment counts were recomputed."""
    return f"loyalnest:segments:{merchant_id}"


def data_import_channel(merchant_id: str) -> str:
    """One merchant's imports: one was queued, started, made progress or finished."""
    return f"loyalnest:data-imports:{merchant_id}"


def webhook_channel(merchant_id: str) -> str:
    """Inbox events of one merchant: a delivery received, done, retried or failed."""
    return f"loyalnest:webhooks:{merchant_id}"


# Postgres NOTIFY channel of the audit_logs insert trigger (migration 0004).
AUDIT_LOG_NOTIFY_CHANNEL = "loyalnest_audit_logs"


class PubSub:
    def __init__(
        self,
        broadcast: Broadcast | None,
        calls: RedisCalls | None = None,
        *,
        publisher: Redis | None = None,
    ) -> None:
        # None: a process that only publishes best-effort and must start without Redis (the
        # edge app). It publishes with a plain PUBLISH on ``publisher`` (what broadcaster's
        # Redis backend sends), and without one its events are dropped, as events may be.
        self._broadcast = broadcast
        self._calls = calls or RedisCalls()
        self._publisher = publisher

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        """Best effort, bounded: called after a commit, it must never hold the answer to the
        write back. An event Redis cannot take now is dropped with a log line."""
        broadcast, publisher = self._broadcast, self._publisher
        if broadcast is None and publisher is None:
            return
        message = orjson.dumps(payload).decode()

        async def send() -> None:
            if broadcast is not None:
                await broadcast.publish(channel, message)
            elif publisher is not None:
                await publisher.publish(channel, message)

        try:
            await self._calls.run("publish", send)
        except RedisUnavailable:
            log.warning("event_dropped", channel=channel)

    async def publish_many(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """``publish`` for several (channel, payload) events, in order, in one round trip: a
        worker batch's. Sent with plain PUBLISH commands, what broadcaster's Redis backend
        sends, so its subscribers get them as any other."""
        publisher = self._publisher
        if publisher is None:
            for channel, payload in events:
                await self.publish(channel, payload)
            return
        if not events:
            return

        async def send() -> None:
            async with publisher.pipeline(transaction=False) as pipeline:
                for channel, payload in events:
                    pipeline.publish(channel, orjson.dumps(payload).decode())
                await pipeline.execute()

        try:
            await self._calls.run("publish", send)
        except RedisUnavailable:
            log.warning("events_dropped", channels=sorted({channel for channel, _ in events}))

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        if self._broadcast is None:
            raise RuntimeError("this process was opened without live events")
        async with self._broadcast.subscribe(channel) as subscriber:

            async def events() -> AsyncIterator[dict[str, Any]]:
                try:
                    while True:
                        event = await subscriber.get()
                        yield orjson.loads(event.message)
                except Unsubscribed:
                    return

            yield events()
