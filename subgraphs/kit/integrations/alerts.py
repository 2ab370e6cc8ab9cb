"""Alerts to the people who run LoyalNest. Slack today; anything with ``send(text)`` tomorrow."""

from __future__ import annotations

from typing import Protocol

import httpx

from subgraphs.kit.integrations.http_retries import (
    DEFAULT_RETRY_POLICY,
    RetryPolicy,
    TransientResponseError,
    call_with_retries,
    raise_for_transient,
)


class AlertDeliveryError(Exception):
    """The alert did not reach its channel, retries included. ``retryable``: the channel was
    unreachable (a later try may succeed), not refusing it."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Alerter(Protocol):
    async def send(self, text: str) -> None: ...


class SlackAlerter:
    """Posts to a Slack incoming webhook."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        webhook_url: str,
        *,
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
    ) -> None:
        self._http = http
        self._webhook_url = webhook_url
        self._retry = retry

    async def _post(self, text: str) -> httpx.Response:
        response = await self._http.post(self._webhook_url, json={"text": text})
        return raise_for_transient(response)

    async def send(self, text: str) -> None:
        try:
            response = await call_with_retries(lambda: self._post(text), self._retry)
        except (TransientResponseError, httpx.TransportError) as exc:
            raise AlertDeliveryError(f"slack unreachable: {exc!r}") from exc
        if response.is_error:
            # 4xx: a revoked webhook or an archived channel; retrying cannot help.
            raise AlertDeliveryError(
                f"slack refused the alert: {response.status_code} {response.text[:200]}",
                retryable=False,
            )
