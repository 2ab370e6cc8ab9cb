"""A client of one shop's Shopify Admin GraphQL API that spends its rate-limit budget carefully.

Shopify meters the Admin GraphQL API per shop with a bucket of cost points that refills at a
fixed rate. Every response reports the bucket (``extensions.cost.throttleStatus``), and a query
that costs more than what is left is refused with a THROTTLED error. So every reading is handed
to ``on_throttle`` (to watch a shop's budget), and a THROTTLED query waits exactly as long as the
bucket needs to refill for it: sooner is refused again, later wastes the job's time.

Other failures split in two:
- Shopify unwell (network errors, 5xx): retried with exponential backoff, each failed request
  counted by a circuit breaker per shop, so that while a shop's API is down calls fail fast
  instead of holding workers in retries (an open breaker also ends a retry loop midway).
- The request refused (auth, GraphQL errors, ``userErrors``): raised at once, as another try
  would be refused the same way.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from subgraphs.kit.integrations.http_retries import (
    RetryPolicy,
    TransientResponseError,
    call_with_retries,
    raise_for_transient,
)
from subgraphs.kit.integrations.shopify_operations import (
    CREATE_BASIC,
    CREATE_FREE_SHIPPING,
    DISCOUNT_BY_CODE,
    MAX_ORDERS_PER_PAGE,
    ORDERS_SINCE,
    CreatedDiscount,
    DiscountCodeSpec,
    DiscountKind,
    OrdersPage,
    basic_input,
    free_shipping_input,
    order_from_node,
)

log = structlog.get_logger(__name__)

DEFAULT_API_VERSION = "2025-10"
# The access token goes to this host: never let a malformed domain send it elsewhere.
_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


class ShopifyAdminError(Exception):
    """Shopify refused or could not serve a call."""


class ShopifyUnavailableError(ShopifyAdminError):
    """Worth trying again later: network errors, 5xx, an open circuit, or still throttled."""


class ShopifyAuthError(ShopifyAdminError):
    """401/403: the token was revoked or lacks a scope; only the merchant can fix that."""


class ShopifyUserErrors(ShopifyAdminError):
    """A mutation was refused for its input (``userErrors``)."""

    def __init__(self, messages: list[str], codes: list[str | None]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages
        self.codes = codes


@dataclass(frozen=True)
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float
    observed_at: datetime

    @property
    def used_fraction(self) -> float:
        if self.maximum_available <= 0:
            return 1.0
        return min(1.0, max(0.0, 1.0 - self.currently_available / self.maximum_available))


@dataclass(frozen=True)
class QueryCost:
    requested: float | None
    throttle_status: ThrottleStatus | None

    @classmethod
    def from_extensions(cls, extensions: object, observed_at: datetime) -> QueryCost | None:
        cost = extensions.get("cost") if isinstance(extensions, dict) else None
        if not isinstance(cost, dict):
            return None
        status = cost.get("throttleStatus")
        throttle_status = None
        if isinstance(status, dict):
            try:
                throttle_status = ThrottleStatus(
                    maximum_available=float(status["maximumAvailable"]),
                    currently_available=float(status["currentlyAvailable"]),
                    restore_rate=float(status["restoreRate"]),
                    observed_at=observed_at,
                )
            except (KeyError, TypeError, ValueError):
                log.warning("shopify_throttle_status_unreadable", throttle_status=status)
        requested = cost.get("requestedQueryCost")
        return cls(
            requested=float(requested) if isinstance(requested, int | float) else None,
            throttle_status=throttle_status,
        )

    def refill_seconds(self) -> float | None:
        """How long until the bucket holds enough points for this query again."""
        status = self.throttle_status
        if self.requested is None or status is None or status.restore_rate <= 0:
            return None
        return max(0.0, (self.requested - status.currently_available) / status.restore_rate)


ThrottleCallback = Callable[[ThrottleStatus], Awaitable[None]]


class ShopifyAdminClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        shop_domain: str,
        access_token: str,
        breakers: AsyncCircuitBreakerFactory,
        api_version: str = DEFAULT_API_VERSION,
        on_throttle: ThrottleCallback | None = None,
        max_attempts: int = 3,
        base_delay: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not _SHOP_DOMAIN.match(shop_domain):
            raise ValueError(f"not a myshopify.com domain: {shop_domain!r}")
        self._http = http
        self._shop_domain = shop_domain
        self._url = f"https://{shop_domain}/admin/api/{api_version}/graphql.json"
        self._headers = {"X-Shopify-Access-Token": access_token, "Accept": "application/json"}
        self._breakers = breakers
        self._circuit = f"shopify:{shop_domain}"
        self._on_throttle = on_throttle
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._retry = RetryPolicy(attempts=max_attempts, base_delay=base_delay)
        self._sleep = sleep

    async def execute(
        self, query: str, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run one GraphQL operation and return its ``data``."""
        payload = {"query": query, "variables": dict(variables or {})}
        for attempt in range(1, self._max_attempts + 1):
            body = await self._request(payload)
            cost = QueryCost.from_extensions(body.get("extensions"), datetime.now(UTC))
            if cost is not None and cost.throttle_status is not None:
                await self._report(cost.throttle_status)
            errors = body.get("errors")
            if _is_throttled(errors):
                if attempt == self._max_attempts:
                    break
                refill = cost.refill_seconds() if cost is not None else None
                delay = (
                    max(self._base_delay, refill)
                    if refill is not None
                    # Without Shopify's numbers, plain exponential backoff.
                    else self._base_delay * 2 ** (attempt - 1)
                )
                log.info("shopify_throttled", shop=self._shop_domain, wait_seconds=delay)
                await self._sleep(delay)
                continue
            if errors:
                raise ShopifyAdminError(f"{self._shop_domain}: {_error_messages(errors)}")
            data = body.get("data")
            if not isinstance(data, dict):
                raise ShopifyAdminError(f"{self._shop_domain}: response without data")
            return data
        raise ShopifyUnavailableError(
            f"{self._shop_domain}: still throttled after {self._max_attempts} attempts"
        )

    async def create_discount_code(self, spec: DiscountCodeSpec) -> CreatedDiscount:
        if spec.kind is DiscountKind.FREE_SHIPPING:
            data = await self.execute(CREATE_FREE_SHIPPING, {"input": free_shipping_input(spec)})
            result = data.get("discountCodeFreeShippingCreate")
        else:
            data = await self.execute(CREATE_BASIC, {"input": basic_input(spec)})
            result = data.get("discountCodeBasicCreate")
        if not isinstance(result, dict):
            raise ShopifyAdminError(f"{self._shop_domain}: discount mutation returned nothing")
        user_errors = result.get("userErrors") or []
        if user_errors:
            raise ShopifyUserErrors(
                [str(error.get("message")) for error in user_errors],
                [error.get("code") for error in user_errors],
            )
        node = result.get("codeDiscountNode")
        if not isinstance(node, dict) or not node.get("id"):
            raise ShopifyAdminError(f"{self._shop_domain}: discount created without an id")
        return CreatedDiscount(id=str(node["id"]), code=spec.code)

    async def discount_id_by_code(self, code: str) -> str | None:
        """The id of the discount holding ``code``, or None: tells a sweeper whether a create
        interrupted by a crash did reach Shopify."""
        data = await self.execute(DISCOUNT_BY_CODE, {"code": code})
        node = data.get("codeDiscountNodeByCode")
        return str(node["id"]) if isinstance(node, dict) and node.get("id") else None

    async def orders_since(
        self, since: datetime, first: int = MAX_ORDERS_PER_PAGE, after: str | None = None
    ) -> OrdersPage:
        """Orders updated at or after ``since`` (refunds and edits update an order), oldest
        change first, one page at a time."""
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        if not 1 <= first <= MAX_ORDERS_PER_PAGE:
            raise ValueError(f"first must be within 1..{MAX_ORDERS_PER_PAGE}")
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = await self.execute(
            ORDERS_SINCE, {"first": first, "after": after, "query": f"updated_at:>='{stamp}'"}
        )
        connection = data["orders"]
        return OrdersPage(
            orders=tuple(order_from_node(node) for node in connection["nodes"]),
            has_next_page=bool(connection["pageInfo"]["hasNextPage"]),
            end_cursor=connection["pageInfo"].get("endCursor"),
        )

    async def _request(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await call_with_retries(lambda: self._post_once(payload), self._retry)
        except (TransientResponseError, httpx.TransportError) as exc:
            raise ShopifyUnavailableError(
                f"{self._shop_domain}: unavailable after {self._max_attempts} attempts: {exc!r}"
            ) from exc
        if response.status_code in (401, 403):
            raise ShopifyAuthError(f"{self._shop_domain}: {response.status_code} from Shopify")
        if response.is_error:
            raise ShopifyAdminError(f"{self._shop_domain}: {response.status_code} from Shopify")
        try:
            body = response.json()
        except ValueError as exc:
            raise ShopifyAdminError(f"{self._shop_domain}: response is not JSON") from exc
        if not isinstance(body, dict):
            raise ShopifyAdminError(f"{self._shop_domain}: response is not a JSON object")
        return body

    async def _post_once(self, payload: dict[str, Any]) -> httpx.Response:
        # Cancellation is ours, not Shopify's: it must not count against the shop.
        breaker = await self._breakers.get_breaker(self._circuit, exclude=[asyncio.CancelledError])
        try:
            async with breaker:
                response = await self._http.post(self._url, json=payload, headers=self._headers)
                if response.status_code >= 500:
                    raise TransientResponseError(response)
        except OpenedState as exc:
            raise ShopifyUnavailableError(
                f"{self._shop_domain}: circuit open after repeated failures; not calling"
            ) from exc
        # A 429 is retried too, but outside the breaker: it says Shopify is up and busy.
        return raise_for_transient(response)

    async def _report(self, status: ThrottleStatus) -> None:
        if self._on_throttle is None:
            return
        try:
            await self._on_throttle(status)
        except Exception:
            # Watching the budget must never fail the call being watched.
            log.exception("shopify_throttle_callback_failed", shop=self._shop_domain)


def _is_throttled(errors: object) -> bool:
    return isinstance(errors, list) and any(
        isinstance(error, dict) and (error.get("extensions") or {}).get("code") == "THROTTLED"
        for error in errors
    )


def _error_messages(errors: object) -> str:
    if isinstance(errors, list):
        return "; ".join(
            str(error.get("message", error)) if isinstance(error, dict) else str(error)
            for error in errors
        )
    return str(errors)
