"""How this process reaches shops' Admin APIs (discount codes for rewards, orders for
reconciliation): shared circuit breakers, where budget readings go, and the client's waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from purgatory import AsyncCircuitBreakerFactory
from redis.asyncio import Redis

from db.crypto import FieldCipher
from db.encryption_contexts import MERCHANTS_API_TOKEN
from subgraphs.kit.integrations.alerts import SlackAlerter
from subgraphs.kit.integrations.shopify_admin import ShopifyAdminClient
from subgraphs.kit.integrations.shopify_rate_limits import RateLimitMonitor
from subgraphs.kit.resources import Resources

_SHOPIFY_TIMEOUT_SECONDS = 10.0

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class MerchantConnection:
    """What calling a shop's Admin API needs to know about the shop."""

    shop_domain: str
    # None for a shop not installed through OAuth (the demo and test shops).
    api_token_encrypted: str | None


# Circuit state must be shared by every request of the process, or it protects nothing.
_PROCESS_BREAKERS = AsyncCircuitBreakerFactory(default_threshold=5, default_ttl=30)


@dataclass(frozen=True)
class ShopifyConnector:
    """How this process reaches shops' Admin APIs: shared circuit breakers, where budget
    readings go (``redis``; alerts to Slack when configured), and the client's waits."""

    breakers: AsyncCircuitBreakerFactory
    # Shared connection pool when given (a worker's); otherwise one per client.
    http: httpx.AsyncClient | None = None
    redis: Redis | None = None
    slack_webhook_url: str | None = None
    sleep: Sleep = asyncio.sleep
    base_delay: float = 0.5

    @classmethod
    def for_process(
        cls, resources: Resources, http: httpx.AsyncClient | None = None
    ) -> ShopifyConnector:
        return cls(
            breakers=_PROCESS_BREAKERS,
            http=http,
            redis=resources.redis,
            slack_webhook_url=resources.settings.slack_webhook_url,
        )

    @asynccontextmanager
    async def admin_client(
        self, merchant_id: str, connection: MerchantConnection, cipher: FieldCipher
    ) -> AsyncIterator[ShopifyAdminClient | None]:
        """The shop's Admin API client; None for a shop without an access token (not
        installed through OAuth: the demo and test shops)."""
        if connection.api_token_encrypted is None:
            yield None
            return
        token = cipher.decrypt(connection.api_token_encrypted, context=MERCHANTS_API_TOKEN)
        async with AsyncExitStack() as stack:
            http = self.http
            if http is None:
                http = await stack.enter_async_context(
                    httpx.AsyncClient(timeout=_SHOPIFY_TIMEOUT_SECONDS)
                )
            monitor = None
            if self.redis is not None:
                alerter = (
                    SlackAlerter(http, self.slack_webhook_url) if self.slack_webhook_url else None
                )
                monitor = RateLimitMonitor(self.redis, alerter)
            yield ShopifyAdminClient(
                http,
                shop_domain=connection.shop_domain,
                access_token=token,
                breakers=self.breakers,
                on_throttle=(
                    monitor.on_throttle_for(merchant_id, shop_domain=connection.shop_domain)
                    if monitor
                    else None
                ),
                sleep=self.sleep,
                base_delay=self.base_delay,
            )
