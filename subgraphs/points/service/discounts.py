"""Turning a redemption into a discount code a shopper can use at checkout.

A shop connected to Shopify gets a real single-use discount through the Admin API; a shop
without a connection (the dev demo merchant) gets the code as is, marked sandbox. Either way
the code itself is generated here, before anything is asked of Shopify: the redemption stores
it first, so a crash between the two leaves a code the sweeper can look up.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import httpx
from purgatory import AsyncCircuitBreakerFactory
from redis.asyncio import Redis

from db.crypto import FieldCipher
from db.models import RewardKind
from subgraphs.kit.integrations.alerts import SlackAlerter
from subgraphs.kit.integrations.shopify_admin import (
    DiscountCodeSpec,
    DiscountKind,
    ShopifyAdminClient,
    ShopifyAdminError,
    ShopifyUnavailableError,
    ShopifyUserErrors,
)
from subgraphs.kit.integrations.shopify_rate_limits import RateLimitMonitor
from subgraphs.kit.resources import Resources
from subgraphs.points.repository.rewards import MerchantConnection

API_TOKEN_CONTEXT = "merchants.api_token"  # noqa: S105 - an encryption context, not a secret
CODE_PREFIX = "LN-"
# No 0/O or 1/I: shoppers read these codes and type them at checkout.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# 12 characters of 32 symbols: 60 random bits, beyond guessing and beyond collisions.
_CODE_LENGTH = 12
_SHOPIFY_TIMEOUT_SECONDS = 10.0

Sleep = Callable[[float], Awaitable[None]]

_DISCOUNT_KINDS = {
    RewardKind.FIXED_AMOUNT: DiscountKind.FIXED_AMOUNT,
    RewardKind.PERCENTAGE: DiscountKind.PERCENTAGE,
    RewardKind.FREE_SHIPPING: DiscountKind.FREE_SHIPPING,
    RewardKind.FREE_PRODUCT: DiscountKind.FREE_PRODUCT,
}


def new_discount_code() -> str:
    return CODE_PREFIX + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))


@dataclass(frozen=True, slots=True)
class DiscountRequest:
    """One single-use code; amounts are in the shop currency (Shopify converts them for
    shoppers paying in another currency)."""

    code: str
    title: str
    kind: RewardKind
    starts_at: datetime
    value: Decimal | None = None
    product_id: str | None = None
    minimum_subtotal: Decimal | None = None
    shopify_customer_id: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedDiscount:
    # None for a sandbox code, which exists nowhere but in our database.
    discount_id: str | None


class DiscountNotIssuedError(Exception):
    """The discount was not created. ``retryable``: Shopify could not be reached, so whether a
    lookup would find the code is unknown; otherwise Shopify answered and refused."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class DiscountIssuer(Protocol):
    async def issue(self, request: DiscountRequest) -> IssuedDiscount:
        """Create the discount; raises DiscountNotIssuedError."""
        ...

    async def lookup(self, code: str) -> IssuedDiscount | None:
        """The discount holding ``code`` if it exists; raises DiscountNotIssuedError."""
        ...


class SandboxIssuer:
    """For shops without a Shopify connection: the generated code is the whole discount."""

    async def issue(self, request: DiscountRequest) -> IssuedDiscount:
        return IssuedDiscount(discount_id=None)

    async def lookup(self, code: str) -> IssuedDiscount | None:
        return IssuedDiscount(discount_id=None)


class ShopifyIssuer:
    def __init__(self, client: ShopifyAdminClient) -> None:
        self._client = client

    async def issue(self, request: DiscountRequest) -> IssuedDiscount:
        try:
            created = await self._client.create_discount_code(_spec(request))
        except ShopifyUserErrors as exc:
            # A create whose answer was lost (timeout) and was sent again finds its own code
            # taken: the first one did land. Our codes are random, so nobody else's is.
            if "TAKEN" in exc.codes:
                found = await self.lookup(request.code)
                if found is not None:
                    return found
            raise DiscountNotIssuedError(
                f"Shopify refused the discount: {exc}", retryable=False
            ) from exc
        except ShopifyAdminError as exc:
            raise _not_issued(exc) from exc
        return IssuedDiscount(discount_id=created.id)

    async def lookup(self, code: str) -> IssuedDiscount | None:
        try:
            discount_id = await self._client.discount_id_by_code(code)
        except ShopifyAdminError as exc:
            raise _not_issued(exc) from exc
        return None if discount_id is None else IssuedDiscount(discount_id=discount_id)


def _not_issued(exc: ShopifyAdminError) -> DiscountNotIssuedError:
    return DiscountNotIssuedError(
        str(exc) or type(exc).__name__, retryable=isinstance(exc, ShopifyUnavailableError)
    )


def _spec(request: DiscountRequest) -> DiscountCodeSpec:
    return DiscountCodeSpec(
        code=request.code,
        title=request.title,
        kind=_DISCOUNT_KINDS[request.kind],
        starts_at=request.starts_at,
        value=request.value,
        product_id=request.product_id,
        minimum_subtotal=request.minimum_subtotal,
        shopify_customer_id=request.shopify_customer_id,
    )


# Circuit state must be shared by every request of the process, or it protects nothing.
_PROCESS_BREAKERS = AsyncCircuitBreakerFactory(default_threshold=5, default_ttl=30)


@dataclass(frozen=True)
class ShopifyConnector:
    """How this process reaches shops' Admin APIs: shared circuit breakers, where budget
    readings go (``redis``; alerts to Slack when configured), and the client's waits."""

    breakers: AsyncCircuitBreakerFactory
    # Shared connection pool when given (a worker's); otherwise one per issuer.
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
    async def issuer(
        self, merchant_id: str, connection: MerchantConnection, cipher: FieldCipher
    ) -> AsyncIterator[DiscountIssuer]:
        async with self.admin_client(merchant_id, connection, cipher) as client:
            yield SandboxIssuer() if client is None else ShopifyIssuer(client)

    @asynccontextmanager
    async def admin_client(
        self, merchant_id: str, connection: MerchantConnection, cipher: FieldCipher
    ) -> AsyncIterator[ShopifyAdminClient | None]:
        """The shop's Admin API client; None for a shop without an access token (not
        installed through OAuth: the demo and test shops)."""
        if connection.api_token_encrypted is None:
            yield None
            return
        token = cipher.decrypt(connection.api_token_encrypted, context=API_TOKEN_CONTEXT)
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
