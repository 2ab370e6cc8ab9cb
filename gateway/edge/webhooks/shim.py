"""POST /webhooks/shopify: verify, store in the durable inbox, acknowledge.

No business logic runs here. The only work is what makes the 200 a promise: the signature
is checked over the raw body, the delivery is committed to Postgres (a retried webhook id
adds nothing), and that commit wakes the worker (a Postgres notification, migration 0030):
accepting a delivery needs neither Redis nor anything after the response.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from db.encryption_contexts import API_LOGS_PAYLOAD
from db.ids import new_id
from gateway.edge.bodies import BodyTooLargeError, read_limited_body
from gateway.edge.rate_limits import client_ip, over_limit
from gateway.edge.webhooks.inbox import inbox_of
from gateway.edge.webhooks.verification import signature_is_valid
from subgraphs.admin.deliveries.repository import NewDelivery
from subgraphs.admin.merchants.service import InvalidShopDomainError, normalize_shop_domain
from subgraphs.kit.resources import Resources
from subgraphs.kit.validation import string_refusal
from worker.webhooks.topics import (
    ERASURE_TOPICS,
    SUPPORTED_TOPICS,
    customer_of,
    payload_from_json,
)

log = structlog.get_logger(__name__)


# Headers copied into the inbox's columns: Shopify's are short; anything longer is not theirs.
_MAX_HEADER_CHARS = 255


def _error(status: int, message: str, **fields: Any) -> JSONResponse:
    log.warning("webhook_rejected", status=status, reason=message, **fields)
    return JSONResponse({"error": message}, status_code=status)


def _header_text(value: str | None) -> str | None:
    """An informational header as its column keeps it; one that cannot be stored is dropped,
    never a reason to refuse (and so lose) a signed delivery."""
    if value is None or len(value) > _MAX_HEADER_CHARS or string_refusal(value) is not None:
        return None
    return value


def _triggered_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


async def receive_shopify_webhook(request: Request) -> JSONResponse:
    resources: Resources = request.app.state.resources
    settings = resources.settings
    try:
        body = await read_limited_body(request, settings.webhook_max_body_bytes)
    except BodyTooLargeError:
        return _error(413, f"body over {settings.webhook_max_body_bytes} bytes")
    headers = request.headers
    if not signature_is_valid(
        body, headers.get("x-shopify-hmac-sha256"), (settings.shopify_api_secret,)
    ):
        # Shopify never sends a wrong signature: a flood of them is an attack, slowed per IP.
        refused = await over_limit(
            resources,
            settings.webhook_bad_signature_rate_limit,
            "webhook_bad_signature",
            client_ip(request),
        )
        if refused is not None:
            return refused
        return _error(
            401, "invalid X-Shopify-Hmac-Sha256", shop=headers.get("x-shopify-shop-domain")
        )
    topic = headers.get("x-shopify-topic", "")
    webhook_id = headers.get("x-shopify-webhook-id", "").strip()
    if not headers.get("x-shopify-shop-domain") or not webhook_id:
        return _error(400, "X-Shopify-Shop-Domain and X-Shopify-Webhook-Id are required")
    try:
        shop = normalize_shop_domain(headers.get("x-shopify-shop-domain", ""))
    except InvalidShopDomainError:
        return _error(400, "X-Shopify-Shop-Domain must be a *.myshopify.com domain")
    if len(webhook_id) > _MAX_HEADER_CHARS or string_refusal(webhook_id) is not None:
        return _error(400, "X-Shopify-Webhook-Id is not an id", shop=shop)
    # Per shop, before anything is stored: a refused delivery leaves no row, and Shopify retries
    # any non-2xx answer later, so a 429 delays a delivery and never loses it.
    refused = await over_limit(resources, settings.webhook_rate_limit, "webhook", shop)
    if refused is not None:
        return refused
    if topic not in SUPPORTED_TOPICS:
        return _error(400, f"unsupported topic {topic!r}", shop=shop)
    try:
        payload = payload_from_json(body)
    except ValueError:
        return _error(400, "body is not JSON", shop=shop, topic=topic)
    if not isinstance(payload, dict):
        return _error(400, "body is not a JSON object", shop=shop, topic=topic)
    merchant_id = await resources.merchants.merchant_id(shop)
    if merchant_id is None:
        if topic in ERASURE_TOPICS:
            # Erased already (or never installed): nothing held, nothing to do.
            log.info("webhook_erasure_for_unknown_shop", shop=shop, topic=topic)
            return JSONResponse({"status": "nothing_held"})
        return _error(404, f"shop {shop} has not installed LoyalNest", topic=topic)

    delivery = NewDelivery(
        id=new_id(),
        topic=topic,
        webhook_id=webhook_id,
        event_id=_header_text(headers.get("x-shopify-event-id")),
        triggered_at=_triggered_at(headers.get("x-shopify-triggered-at")),
        api_version=_header_text(headers.get("x-shopify-api-version")),
        payload_encrypted=resources.cipher.encrypt(body.decode(), context=API_LOGS_PAYLOAD),
        payload_bytes=len(body),
        shopify_customer_id=customer_of(topic, payload),
    )
    inbox = inbox_of(request)
    if not await inbox.store(merchant_id, delivery):
        return JSONResponse({"status": "duplicate"})
    # Whatever the payload holds (a NUL, a number too big for a column), it is stored as it
    # came, encrypted: what the worker cannot use, it refuses once with its reason
    # (worker.webhooks.processing).
    return JSONResponse({"status": "accepted", "deliveryId": delivery.id})


def webhook_routes() -> list[Route]:
    return [Route("/webhooks/shopify", receive_shopify_webhook, methods=["POST"])]
