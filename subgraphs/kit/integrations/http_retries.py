"""How every client of a third-party HTTP API retries, so they all back off the same way.

Retried: transport errors (connect, read, timeouts), 5xx and 429. Any other answer is final and
the caller interprets it. A 429 (or 503) that says Retry-After is waited out exactly, because
retrying sooner only earns another refusal; one that asks for longer than the policy accepts
ends the retries at once, since blocking a worker that long is worse than failing the job and
letting the job queue reschedule it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
import stamina

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 10.0
    max_retry_after: float = 30.0


DEFAULT_RETRY_POLICY = RetryPolicy()


class TransientResponseError(Exception):
    """A 5xx or 429: the server may well answer differently in a moment."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status_code = response.status_code
        self.retry_after = retry_after_seconds(response)
        # Host only: webhook URLs carry their secret in the path.
        super().__init__(f"{response.request.url.host} answered {response.status_code}")


def is_transient_status(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


def raise_for_transient(response: httpx.Response) -> httpx.Response:
    if is_transient_status(response.status_code):
        raise TransientResponseError(response)
    return response


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After in seconds, whether sent as a number or as an HTTP date."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _backoff_for(policy: RetryPolicy) -> Callable[[Exception], bool | float]:
    def backoff(exc: Exception) -> bool | float:
        if isinstance(exc, httpx.TransportError):
            return True
        if isinstance(exc, TransientResponseError):
            if exc.retry_after is None:
                return True
            if exc.retry_after > policy.max_retry_after:
                return False
            return exc.retry_after
        return False

    return backoff


async def call_with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """Run ``call`` until it returns, raises something final, or ``policy.attempts`` run out;
    then the last ``httpx.TransportError`` or ``TransientResponseError`` is raised."""
    async for attempt in stamina.retry_context(
        on=_backoff_for(policy),
        attempts=policy.attempts,
        timeout=None,
        wait_initial=policy.base_delay,
        wait_max=policy.max_delay,
        wait_jitter=policy.base_delay / 2,
    ):
        with attempt:
            return await call()
    raise AssertionError("stamina re-raises after the last attempt")  # pragma: no cover
