"""Redis cache of tenant-scoped values. Redis is only ever a cache here: every failure is a miss.

Invalidation is by generation: each merchant has a counter that is part of every key of theirs,
so one INCR after a write retires all their cached values at once without knowing the keys.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)


class TenantCache:
    def __init__(self, redis: Redis, *, namespace: str = "loyalnest") -> None:
        self._redis = redis
        self._namespace = namespace

    def _generation_key(self, merchant_id: str) -> str:
        return f"{self._namespace}:gen:{merchant_id}"

    async def _key(self, merchant_id: str, name: str) -> str:
        generation = await self._redis.get(self._generation_key(merchant_id))
        return f"{self._namespace}:t:{merchant_id}:{int(generation or 0)}:{name}"

    async def get(self, merchant_id: str, name: str) -> Any | None:
        try:
            raw = await self._redis.get(await self._key(merchant_id, name))
        except RedisError as exc:
            log.warning("cache_unavailable", op="get", error=str(exc))
            return None
        return None if raw is None else orjson.loads(raw)

    async def set(self, merchant_id: str, name: str, value: Any, *, ttl_seconds: int) -> None:
        try:
            key = await self._key(merchant_id, name)
            await self._redis.set(key, orjson.dumps(value), ex=ttl_seconds)
        except RedisError as exc:
            log.warning("cache_unavailable", op="set", error=str(exc))

    async def invalidate_tenant(self, merchant_id: str) -> None:
        try:
            await self._redis.incr(self._generation_key(merchant_id))
        except RedisError as exc:
            # Entries expire by TTL; a missed bump means at most one TTL of staleness.
            log.warning("cache_unavailable", op="invalidate", error=str(exc))
