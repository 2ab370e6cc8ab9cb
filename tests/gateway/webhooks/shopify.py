"""Shopify as the tests see it: payloads shaped like Shopify's, signed like Shopify signs them,
sent over real HTTP to the edge app."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import orjson
from sqlalchemy import text

from db.session import system_unit_of_work
from gateway.edge.webhooks.verification import webhook_signature
from subgraphs.kit.resources import Resources
from tests.conftest import TEST_APP_SECRET
from tests.subgraphs.admin.gdpr.runs import run_gdpr_jobs
from worker.webhooks.processing import DeliveryOutcome, process_delivery


def order_payload(
    order_id: int | str,
    *,
    lines: list[tuple[int | str, int, str]],
    customer_id: int | str | None = None,
    email: str | None = None,
    financial_status: str = "paid",
    source_name: str = "web",
    currency: str = "USD",
    cancelled: bool = False,
) -> dict[str, Any]:
    """lines: (line item id, quantity, unit price)."""
    customer = (
        {"id": customer_id, "email": email, "phone": None, "locale": "en"}
        if customer_id is not None
        else None
    )
    return {
        "id": order_id,
        "email": email,
        "currency": currency,
        "created_at": datetime.now(UTC).isoformat(),
        "cancelled_at": datetime.now(UTC).isoformat() if cancelled else None,
        "financial_status": financial_status,
        "source_name": source_name,
        "customer": customer,
        "shipping_address": {"country_code": "US", "address1": "1 Main St"},
        "line_items": [
            {"id": line_id, "quantity": quantity, "price": price, "discount_allocations": []}
            for line_id, quantity, price in lines
        ],
        "total_price": str(sum(Decimal(p) * q for _, q, p in lines)),
    }


def customer_payload(
    customer_id: int | str,
    email: str,
    *,
    phone: str | None = None,
    first_name: str = "Ada",
    last_name: str = "Lovelace",
) -> dict[str, Any]:
    return {
        "id": customer_id,
        "email": email,
        "phone": phone,
        "first_name": first_name,
        "last_name": last_name,
        "locale": "en",
        "default_address": {"country_code": "GB", "address1": "12 St James's Square"},
    }


def refund_payload(
    refund_id: int | str, order_id: int | str, lines: list[tuple[int | str, int, str]]
) -> dict[str, Any]:
    """lines: (line item id, quantity refunded, subtotal refunded)."""
    return {
        "id": refund_id,
        "order_id": order_id,
        "refund_line_items": [
            {"line_item_id": line_id, "quantity": quantity, "subtotal": subtotal}
            for line_id, quantity, subtotal in lines
        ],
    }


@dataclass(frozen=True)
class SignedDelivery:
    body: bytes
    headers: dict[str, str]


def signed(
    topic: str,
    payload: dict[str, Any],
    *,
    shop: str,
    webhook_id: str | None = None,
    secret: str = TEST_APP_SECRET,
) -> SignedDelivery:
    body = orjson.dumps(payload)
    return SignedDelivery(
        body=body,
        headers={
            "content-type": "application/json",
            "x-shopify-topic": topic,
            "x-shopify-shop-domain": shop,
            "x-shopify-webhook-id": webhook_id or str(uuid.uuid4()),
            "x-shopify-event-id": str(uuid.uuid4()),
            "x-shopify-triggered-at": datetime.now(UTC).isoformat(),
            "x-shopify-api-version": "2025-10",
            "x-shopify-hmac-sha256": webhook_signature(body, secret),
        },
    )


async def deliver(
    http: httpx.AsyncClient, topic: str, payload: dict[str, Any], *, shop: str, **kwargs: Any
) -> httpx.Response:
    delivery = signed(topic, payload, shop=shop, **kwargs)
    return await http.post("/webhooks/shopify", content=delivery.body, headers=delivery.headers)


async def inbox(resources: Resources, merchant_id: str) -> list[dict[str, Any]]:
    """The merchant's inbox rows, oldest first, read as the table owner."""
    async with system_unit_of_work(resources.sessions) as session:
        rows = await session.execute(
            text(
                "SELECT id, topic, status, webhook_id, attempts, last_error, payload_encrypted, "
                "shopify_customer_id FROM api_logs WHERE merchant_id = :m ORDER BY created_at, id"
            ),
            {"m": merchant_id},
        )
        return [dict(row._mapping) for row in rows]


async def process_pending(resources: Resources, merchant_id: str) -> list[DeliveryOutcome]:
    """What the worker does for each pending delivery, run here in order, and then the GDPR
    jobs those deliveries enqueue (exports, provider profile deletions)."""
    outcomes = []
    for row in await inbox(resources, merchant_id):
        if row["status"] == "pending":
            outcomes.append(await process_delivery(resources, merchant_id, row["id"]))
    await run_gdpr_jobs(resources, merchant_id)
    return outcomes
