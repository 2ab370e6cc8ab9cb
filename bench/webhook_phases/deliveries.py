"""Signed orders/paid deliveries shaped like Shopify's, and the senders that post them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import orjson

# The project's code: this path moves with it.
from gateway.edge.webhooks.verification import webhook_signature

APP_SECRET = "bench-app-secret"  # noqa: S105 - a throwaway secret shared with the shim
# Buyers the deliveries cycle through, unless --buyers says otherwise.
CUSTOMERS = 50
WEBHOOK_PATH = "/webhooks/shopify"


@dataclass(frozen=True)
class Delivery:
    body: bytes
    headers: dict[str, str]


def order_delivery(shop: str, number: int, buyers: int = CUSTOMERS) -> Delivery:
    """A signed orders/paid delivery (as tests/gateway/webhooks builds it): its own order and
    webhook id, one of ``buyers`` buyers."""
    order_id = 900_000_000 + number
    quantity, price = 1 + number % 3, Decimal(number % 17 + 1)
    buyer = number % buyers
    now = datetime.now(UTC).isoformat()
    body = orjson.dumps(
        {
            "id": order_id,
            "email": f"buyer{buyer}@bench.example",
            "currency": "USD",
            "created_at": now,
            "cancelled_at": None,
            "financial_status": "paid",
            "source_name": "web",
            "customer": {
                "id": 70_000 + buyer,
                "email": f"buyer{buyer}@bench.example",
                "phone": None,
                "locale": "en",
            },
            "shipping_address": {"country_code": "US", "address1": "1 Main St"},
            "line_items": [
                {
                    "id": order_id * 10,
                    "quantity": quantity,
                    "price": f"{price}.00",
                    "discount_allocations": [],
                }
            ],
            "total_price": str(price * quantity),
        }
    )
    return Delivery(
        body=body,
        headers={
            "content-type": "application/json",
            "x-shopify-topic": "orders/paid",
            "x-shopify-shop-domain": shop,
            "x-shopify-webhook-id": str(uuid.uuid4()),
            "x-shopify-event-id": str(uuid.uuid4()),
            "x-shopify-triggered-at": now,
            "x-shopify-api-version": "2025-10",
            "x-shopify-hmac-sha256": webhook_signature(body, APP_SECRET),
        },
    )


@dataclass
class SendResult:
    """What the shim answered: 200s (with their latencies in seconds) and the rest."""

    latencies: list[float] = field(default_factory=list)
    accepted: int = 0
    rejected: int = 0
    first_error: str | None = None
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    def accepted_line(self) -> str:
        return (
            f"    accepted deliveries/s {self.per_second:9.1f}"
            f"   ({self.accepted} accepted, {self.rejected} rejected)"
        )


async def post(http: httpx.AsyncClient, delivery: Delivery, result: SendResult) -> None:
    started = time.perf_counter()
    try:
        response = await http.post(WEBHOOK_PATH, content=delivery.body, headers=delivery.headers)
    except httpx.HTTPError as error:
        result.rejected += 1
        result.first_error = result.first_error or repr(error)
        return
    if response.status_code == 200:
        result.accepted += 1
        result.latencies.append(time.perf_counter() - started)
    else:
        result.rejected += 1
        result.first_error = result.first_error or f"{response.status_code} {response.text}"


class Senders:
    """One single-connection client per concurrent sender: httpx's pool gets slower with
    every connection it holds, and on a small machine that CPU comes out of the shim's."""

    def __init__(self, base_url: str, count: int) -> None:
        self.clients = [
            httpx.AsyncClient(
                base_url=base_url,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                timeout=60,
            )
            for _ in range(count)
        ]
        self._idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for client in self.clients:
            self._idle.put_nowait(client)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    async def send_all(self, deliveries: list[Delivery]) -> SendResult:
        """As fast as the shim takes them: every sender waits for its 200, then sends again."""
        result = SendResult()
        pending = iter(deliveries)

        async def sender(http: httpx.AsyncClient) -> None:
            for delivery in pending:
                await post(http, delivery, result)

        started = time.perf_counter()
        await asyncio.gather(*(sender(http) for http in self.clients))
        result.seconds = time.perf_counter() - started
        return result

    async def send_paced(self, deliveries: list[Delivery], rate: float) -> SendResult:
        """Open loop: delivery i leaves at i / rate seconds, as Shopify sends regardless of
        how fast we answer (or waits for a free sender, if all are busy)."""
        result = SendResult()

        async def send(delivery: Delivery) -> None:
            http = await self._idle.get()
            try:
                await post(http, delivery, result)
            finally:
                self._idle.put_nowait(http)

        tasks = []
        started = time.perf_counter()
        for index, delivery in enumerate(deliveries):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(delivery)))
        await asyncio.gather(*tasks)
        result.seconds = time.perf_counter() - started
        return result


@asynccontextmanager
async def senders(base_url: str, count: int) -> AsyncIterator[Senders]:
    opened = Senders(base_url, count)
    try:
        yield opened
    finally:
        await opened.aclose()
