"""Long-lived resources of a subgraph process: database, Redis, pub/sub, crypto."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from broadcaster import Broadcast
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.crypto import FieldCipher
from db.session import create_engine, create_session_factory, system_unit_of_work
from subgraphs.kit.cache import TenantCache
from subgraphs.kit.fanout import SnapshotFanout
from subgraphs.kit.pubsub import PubSub
from subgraphs.kit.rate_limits import RateLimiter
from subgraphs.kit.redis_calls import RedisCalls
from subgraphs.kit.repository import merchant_for_shop
from subgraphs.kit.settings import Settings

_MERCHANT_LOOKUP_TTL_SECONDS = 60.0


@dataclass
class MerchantDirectory:
    """shop domain -> merchant id (and whether the app is installed there), remembered briefly
    so auth costs no query per request. An uninstall reaches other processes within the TTL."""

    sessions: async_sessionmaker[AsyncSession]
    _known: dict[str, tuple[str, bool, float]] = field(default_factory=dict)

    async def merchant_id(self, shop_domain: str) -> str | None:
        """Any merchant the shop ever was, installed or not: Shopify still sends an uninstalled
        shop's GDPR webhooks, and its data is kept until shop/redact."""
        found = await self._lookup(shop_domain)
        return None if found is None else found[0]

    async def installed_merchant_id(self, shop_domain: str) -> str | None:
        """The merchant only while LoyalNest is installed: what a caller's token may act for."""
        found = await self._lookup(shop_domain)
        return found[0] if found is not None and found[1] else None

    def forget(self, shop_domain: str) -> None:
        """Drop what is remembered of a shop (after an install or an uninstall here)."""
        self._known.pop(shop_domain, None)

    async def _lookup(self, shop_domain: str) -> tuple[str, bool] | None:
        hit = self._known.get(shop_domain)
        if hit is not None and hit[2] > time.monotonic():
            return hit[0], hit[1]
        async with system_unit_of_work(self.sessions) as session:
            found = await merchant_for_shop(session, shop_domain)
        if found is not None:
            self._known[shop_domain] = (*found, time.monotonic() + _MERCHANT_LOOKUP_TTL_SECONDS)
        return found


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    pubsub: PubSub
    cache: TenantCache
    cipher: FieldCipher
    merchants: MerchantDirectory
    # Request counters of the edge app (kit.rate_limits); the router keeps its own.
    rate_limiter: RateLimiter
    # Live snapshots: one channel subscription and one read per event per key (kit.fanout).
    fanout: SnapshotFanout = field(default_factory=SnapshotFanout)
    # The process's bounds on Redis calls (the breaker cache and bus share), for others.
    redis_calls: RedisCalls = field(default_factory=RedisCalls)


def _require(value: str | None, name: str) -> str:
    if not value:
        raise RuntimeError(
            f"{name} is not set: start services with `loyalnest dev` / `loyalnest serve`, "
            f"which provide embedded defaults, or set {name}"
        )
    return value


@asynccontextmanager
async def open_resources(settings: Settings, *, live: bool = True) -> AsyncIterator[Resources]:
    """``live=False`` skips the pub/sub connection, so the process starts and serves while
    Redis is down (the webhook shim: Postgres is its inbox, Redis only its doorbell)."""
    settings.check_production()
    database_url = _require(settings.database_url, "DATABASE_URL")
    redis_url = _require(settings.redis_url, "REDIS_URL")
    cipher = FieldCipher.from_config(
        _require(settings.encryption_keys, "LOYALNEST_ENCRYPTION_KEYS"),
        _require(settings.blind_index_key, "LOYALNEST_BLIND_INDEX_KEY"),
    )
    engine = create_engine(database_url, pool_size=settings.db_pool_size)
    sessions = create_session_factory(engine)
    redis = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    # One breaker for the process: once Redis stops answering, cache and bus calls fail fast.
    redis_calls = RedisCalls(timeout_seconds=settings.redis_call_timeout_seconds)
    broadcast = Broadcast(redis_url) if live else None
    if broadcast is not None:
        await broadcast.connect()
    try:
        yield Resources(
            settings=settings,
            engine=engine,
            sessions=sessions,
            redis=redis,
            pubsub=PubSub(broadcast, redis_calls, publisher=redis),
            cache=TenantCache(redis, redis_calls),
            cipher=cipher,
            merchants=MerchantDirectory(sessions),
            rate_limiter=RateLimiter(
                redis,
                enabled=settings.rate_limits_enabled,
                timeout_seconds=settings.redis_call_timeout_seconds,
            ),
            redis_calls=redis_calls,
        )
    finally:
        if broadcast is not None:
            await broadcast.disconnect()
        await redis.aclose()
        await engine.dispose()
