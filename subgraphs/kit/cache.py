"""Redis cache of tenant-scoped values. Redis is only ever a cache here: every failure is a miss.

Invalidation is by generation: each merchant has a counter that is part of every key of theirs,
so one INCR after a write retires all their cached values at once without knowing the keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, TypeVar

import orjson
import structlog
from redis.asyncio import Redis

from subgraphs.kit.observability import CACHE_LOOKUPS
from subgraphs.kit.redis_calls import RedisCalls, RedisUnavailable

log = structlog.get_logger(__name__)
T = TypeVar("T")


class TenantCache:
    def __init__(
        self, redis: Redis, calls: RedisCalls | None = None, *, namespace: str = "loyalnest"
    ) -> None:
        self._redis = redis
        self._calls = calls or RedisCalls()
        self._namespace = namespace

    def _generation_key(self, merchant_id: str) -> str:
        return f"{self._namespace}:gen:{merchant_id}"

    async def _key(self, merchant_id: str, name: str) -> str:
        generation = await self._redis.get(self._generation_key(merchant_id))
        return f"{self._namespace}:t:{merchant_id}:{int(generation or 0)}:{name}"

    async def get_or_load(
        self,
        merchant_id: str,
        name: str,
        load: Callable[[], Awaitable[T]],
        *,
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
        ttl_seconds: int,
    ) -> T:
        """``name`` is the cache's name, then its parameters after a colon
        (``referral-report:2026-11-01:2026-11-30``); metrics count lookups by the name."""

        async def read() -> tuple[str, Any]:
            # The generation is read once, before loading: if a write bumps it while we load,
            # what we store lands under the retired generation and is never served.
            key = await self._key(merchant_id, name)
            return key, await self._redis.get(key)

        # Labelled by the name without its parameters, so the label's values stay few.
        cache = name.split(":", 1)[0]
        try:
            key, raw = await self._calls.run("cache_get", read)
        except RedisUnavailable:
            CACHE_LOOKUPS.labels(cache, "unavailable").inc()
            return await load()
        if raw is not None:
            CACHE_LOOKUPS.labels(cache, "hit").inc()
            return decode(orjson.loads(raw))
        CACHE_LOOKUPS.labels(cache, "miss").inc()
        value = await load()
        encoded = orjson.dumps(encode(value))
        # A value Redis cannot take now is simply not cached.
        with suppress(RedisUnavailable):
            await self._calls.run(
                "cache_set", lambda: self._redis.set(key, encoded, ex=ttl_seconds)
            )
        return value

    async def invalidate_tenant(self, merchant_id: str) -> None:
        try:
            await self._calls.run(
                "cache_invalidate", lambda: self._redis.incr(self._generation_key(merchant_id))
            )
        except RedisUnavailable:
            # Entries expire by TTL; a missed bump means at most one TTL of staleness.
            log.warning("cache_invalidation_missed", merchant_id=merchant_id)
