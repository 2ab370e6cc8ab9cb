"""Every call this process makes to Redis as a cache or a bus, bounded: a short timeout per
call and one circuit breaker per process, so a Redis that is down, or worse, hung (accepting
connections and never answering), costs a request at most one timeout and then nothing.

Redis is never the only copy of anything: callers treat :class:`RedisUnavailable` as a cache
miss or a dropped event (subscribers recover from the next event), never as a failure of the
write that came before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)
T = TypeVar("T")

DEFAULT_TIMEOUT_SECONDS = 0.1
# After this many failures in a row the breaker opens, and for this long every call fails at
# once; then one call is let through to see whether Redis is back.
FAILURES_TO_OPEN = 3
OPEN_SECONDS = 5.0
_CIRCUIT = "redis"


class RedisUnavailable(Exception):
    """Redis did not answer in time, refused, or its breaker is open."""


class RedisCalls:
    def __init__(
        self,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        failures_to_open: int = FAILURES_TO_OPEN,
        open_seconds: float = OPEN_SECONDS,
        log_failures: bool = True,
    ) -> None:
        self._timeout = timeout_seconds
        # False: the caller reports outages itself (the rate limiter logs one line each).
        self._log_failures = log_failures
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=failures_to_open, default_ttl=open_seconds
        )

    async def run(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` within the timeout and the breaker; RedisUnavailable otherwise."""
        breaker = await self._breakers.get_breaker(_CIRCUIT, exclude=[asyncio.CancelledError])
        try:
            async with breaker:
                async with asyncio.timeout(self._timeout):
                    return await call()
        except OpenedState:
            raise RedisUnavailable(f"{operation}: Redis circuit open") from None
        except (TimeoutError, RedisError, OSError) as exc:
            if self._log_failures:
                log.warning("redis_unavailable", op=operation, error=repr(exc))
            raise RedisUnavailable(f"{operation}: {exc!r}") from exc
