"""Rate limits on Redis, with the ``limits`` library's moving window: per key, the times of
the last ``limit`` requests (a Redis list, so at most ``limit`` entries); a request is allowed
when the oldest of them has left the window. Exact, unlike a fixed window (twice the limit in a
burst across a boundary) or the sliding-window counter (an estimate that lets a request or two
through right after a boundary), and bounded in memory by the limit itself.

A limiter never fails a request: if Redis is down, slow or its breaker is open, the request
is allowed, and one log line says so for the whole outage (the next success logs the end).
Limiting is protection, not correctness; refusing every request while Redis is away would turn
a cache outage into a full outage.

Framework-free: callers turn a :class:`RateLimitDecision` into a 429 (``headers()``) or a
GraphQL error themselves.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from subgraphs.kit.redis_calls import RedisCalls, RedisUnavailable

log = structlog.get_logger(__name__)

KEY_PREFIX = "loyalnest:ratelimit"


def parse_limit(text: str) -> RateLimitItem:
    """``"1200/minute"``, ``"20 per second"``... (the ``limits`` notation); ValueError if not."""
    return parse(text)


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    """One check of one key: whether it passed, and what the client should know either way."""

    allowed: bool
    limit: int
    remaining: int
    window_seconds: int
    # Seconds until a refused client may try again (until the window has room), >= 1 when
    # refused; for an allowed request, until the counter has fully drained.
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """``RateLimit-*`` (IETF draft "RateLimit header fields for HTTP", the
        Limit/Remaining/Reset form most clients read) and, when refused, ``Retry-After``."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={self.window_seconds}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


class RateLimiter:
    """Checks ``limit`` for a key (``scope`` + ``identity``) on the process's Redis."""

    def __init__(self, redis: Redis, *, enabled: bool = True, timeout_seconds: float = 0.1) -> None:
        self.enabled = enabled
        # The limiter shares the process's connection pool: one Redis, one set of sockets.
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=KEY_PREFIX,
            # limits types its options as scalars, yet hands connection_pool to redis-py as is.
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]
        )
        self._strategy = MovingWindowRateLimiter(storage)
        # Its own breaker and timeout: a check adds at most one short wait to a request, and
        # none once Redis is known to be away. The breaker's own per-failure lines are left out:
        # this class logs the outage once.
        self._calls = RedisCalls(timeout_seconds=timeout_seconds, log_failures=False)
        self._failing_open = False

    async def hit(self, limit: RateLimitItem, scope: str, identity: str) -> RateLimitDecision:
        """Count one request against ``scope``/``identity`` and say whether it may proceed."""
        if not self.enabled:
            return _unlimited(limit)
        try:
            allowed = await self._calls.run(
                "rate_limit", lambda: self._strategy.hit(limit, scope, identity)
            )
            stats = await self._calls.run(
                "rate_limit_stats",
                lambda: self._strategy.get_window_stats(limit, scope, identity),
            )
        except RedisUnavailable as exc:
            if not self._failing_open:
                self._failing_open = True
                log.warning("rate_limits_failing_open", reason=str(exc))
            return _unlimited(limit)
        if self._failing_open:
            self._failing_open = False
            log.info("rate_limits_restored")
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        return RateLimitDecision(
            allowed=allowed,
            limit=limit.amount,
            remaining=stats.remaining,
            window_seconds=limit.get_expiry(),
            reset_seconds=max(1, reset) if not allowed else reset,
        )


def _unlimited(limit: RateLimitItem) -> RateLimitDecision:
    return RateLimitDecision(
        allowed=True,
        limit=limit.amount,
        remaining=limit.amount,
        window_seconds=limit.get_expiry(),
        reset_seconds=0,
    )
