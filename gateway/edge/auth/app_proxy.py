"""The storefront's way in: Shopify's app proxy vouches for the logged-in customer, and we
exchange that for a short-lived customer token the widget sends to the GraphQL endpoint.

Shopify forwards ``https://<shop>/apps/<subpath>/token`` to ``GET /proxy/token`` with ``shop``,
``logged_in_customer_id`` (empty when nobody is logged in), ``path_prefix``, ``timestamp`` and
``signature`` (see gateway/edge/auth/shopify_signatures.py). The signature proves Shopify sent it;
the timestamp keeps a leaked URL from being replayed later.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db.session import tenant_unit_of_work
from gateway.edge.auth.shopify_signatures import app_proxy_query_is_authentic
from gateway.edge.auth.tokens import mint_customer_token
from subgraphs.admin.merchants.service import InvalidShopDomainError, normalize_shop_domain
from subgraphs.kit.auth import CUSTOMER_TOKEN_TTL_SECONDS
from subgraphs.kit.auth_repository import customer_id_for_shopify_customer
from subgraphs.kit.global_ids import encode_global_id
from subgraphs.kit.resources import Resources

# Shopify signs as it forwards, so a genuine request is seconds old; allow for clock drift.
MAX_SIGNATURE_AGE_SECONDS = 90
# Shopify customer ids are 64-bit integers, sent as decimal digits.
_SHOPIFY_CUSTOMER_ID = re.compile(r"[0-9]{1,20}")
# A token in a response must never be cached by the storefront's CDN or the browser.
_NO_STORE = {"cache-control": "no-store"}


async def proxy_token(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    settings = resources.settings
    params = request.query_params
    if not app_proxy_query_is_authentic(params.multi_items(), settings.shopify_api_secret):
        return _error(401, "the request is not signed by Shopify's app proxy")
    if not signature_is_fresh(params.get("timestamp")):
        return _error(401, "the app proxy signature is too old (or from the future)")
    try:
        shop = normalize_shop_domain(params.get("shop", ""))
    except InvalidShopDomainError:
        return _error(400, "shop must be a *.myshopify.com domain")
    merchant_id = await resources.merchants.installed_merchant_id(shop)
    if merchant_id is None:
        return _error(401, f"shop {shop} has not installed LoyalNest")
    shopify_customer_id = params.get("logged_in_customer_id", "")
    if not shopify_customer_id:
        return _error(401, "no customer is logged in to the storefront")
    if not _SHOPIFY_CUSTOMER_ID.fullmatch(shopify_customer_id):
        # Signed, yet no id Shopify makes (a NUL reached Postgres here and answered 500).
        return _error(400, "logged_in_customer_id must be a Shopify customer id (digits)")
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        customer_id = await customer_id_for_shopify_customer(
            session, merchant_id, shopify_customer_id
        )
    if customer_id is None:
        return _error(404, "this customer is not enrolled in the loyalty program yet")
    now = int(time.time())
    token = mint_customer_token(
        shop_domain=shop, customer_id=customer_id, secret=settings.token_secret, now=now
    )
    expires_at = datetime.fromtimestamp(now + CUSTOMER_TOKEN_TTL_SECONDS, UTC)
    return JSONResponse(
        {
            "token": token,
            "expiresAt": expires_at.isoformat(),
            # The API's ID of the customer: what the widget passes to customer(id:).
            "customerId": encode_global_id("Customer", customer_id),
        },
        headers=_NO_STORE,
    )


def signature_is_fresh(timestamp: str | None) -> bool:
    """An app-proxy request's ``timestamp`` is within ``MAX_SIGNATURE_AGE_SECONDS`` of now."""
    try:
        signed_at = int(timestamp or "")
    except ValueError:
        return False
    return abs(time.time() - signed_at) <= MAX_SIGNATURE_AGE_SECONDS


def _error(status_code: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status_code, headers=_NO_STORE)
