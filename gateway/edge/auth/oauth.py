"""Shopify OAuth (authorization code grant): a merchant installs LoyalNest.

1. ``GET /auth/install?shop=&timestamp=&hmac=``: Shopify (or the App Store) sends the merchant
   here. We check Shopify's signature, remember a one-time ``state`` in Redis for ten minutes
   and send the merchant to the shop's consent screen.
2. ``GET /auth/callback?code=&shop=&state=&timestamp=&host=&hmac=``: Shopify sends them back.
   We check the signature, consume the state (once: GETDEL), exchange the code for an offline
   Admin API token, install the merchant, store the token encrypted, queue the Shopify
   backfill of its customers and order history, and send them into the app.

The state binds the callback to an install we started for the same shop, so a forged or
replayed callback installs nothing and stores nothing.
"""

from __future__ import annotations

import secrets
import warnings
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import structlog
from authlib.deprecate import AuthlibDeprecationWarning
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from db.session import system_unit_of_work
from gateway.edge.auth.shopify_signatures import oauth_query_is_authentic
from subgraphs.admin.backfill.service import enqueue_backfill, queue_at_install
from subgraphs.admin.merchants.service import (
    InvalidShopDomainError,
    normalize_shop_domain,
    record_app_install,
)
from subgraphs.kit.resources import Resources
from subgraphs.kit.settings import Settings

with warnings.catch_warnings():
    # authlib's httpx integration prefers the httpx2 fork and warns when it falls back to httpx,
    # which is the client this project (and respx in its tests) uses.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

log = structlog.get_logger(__name__)

STATE_TTL_SECONDS = 10 * 60
_TOKEN_EXCHANGE_TIMEOUT_SECONDS = 10.0


class OAuthRejection(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def state_key(state: str) -> str:
    return f"oauth:state:{state}"


def callback_url(settings: Settings) -> str:
    return f"{settings.app_url.rstrip('/')}/auth/callback"


async def install(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    try:
        shop = _verified_shop(request, resources.settings)
        state = secrets.token_urlsafe(32)
        try:
            await resources.redis.set(state_key(state), shop, ex=STATE_TTL_SECONDS)
        except (RedisError, OSError) as exc:
            raise OAuthRejection(503, "installation is unavailable, try again shortly") from exc
    except OAuthRejection as rejection:
        return _rejected(rejection)
    async with _oauth_client(resources.settings) as client:
        url, _ = client.create_authorization_url(
            f"https://{shop}/admin/oauth/authorize", state=state
        )
    return RedirectResponse(str(url), status_code=302)


async def callback(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    settings = resources.settings
    params = request.query_params
    try:
        shop = _verified_shop(request, settings)
        code, state = params.get("code"), params.get("state")
        if not code or not state:
            raise OAuthRejection(400, "code and state are required")
        await _consume_state(resources, state, shop)
        token = await _exchange_code(settings, shop, code)
    except OAuthRejection as rejection:
        return _rejected(rejection)
    async with system_unit_of_work(resources.sessions) as session:
        merchant, reinstalled = await record_app_install(
            session,
            resources.cipher,
            shop,
            access_token=token["access_token"],
            scopes=str(token.get("scope", "")),
        )
        # The shop's customers and order history come in by a job (committed with the install).
        backfill = await queue_at_install(session, merchant.id, now=datetime.now(UTC))
    if backfill is not None:
        await enqueue_backfill(resources.redis, merchant.id)
    # This process may remember the shop as uninstalled; other processes forget within a minute.
    resources.merchants.forget(shop)
    log.info("app_installed", shop=shop, merchant_id=merchant.id, reinstalled=reinstalled)
    into_app = {"shop": shop, **({"host": host} if (host := params.get("host")) else {})}
    return RedirectResponse(
        f"{settings.app_url.rstrip('/')}/?{urlencode(into_app)}", status_code=302
    )


def _verified_shop(request: Request, settings: Settings) -> str:
    params = request.query_params
    if not oauth_query_is_authentic(params.multi_items(), settings.shopify_api_secret):
        raise OAuthRejection(401, "the request is not signed by Shopify (bad or missing hmac)")
    try:
        return normalize_shop_domain(params.get("shop", ""))
    except InvalidShopDomainError as exc:
        raise OAuthRejection(400, "shop must be a *.myshopify.com domain") from exc


async def _consume_state(resources: Resources, state: str, shop: str) -> None:
    try:
        remembered = await resources.redis.getdel(state_key(state))
    except (RedisError, OSError) as exc:
        raise OAuthRejection(503, "installation is unavailable, try again shortly") from exc
    if remembered is None or remembered.decode() != shop:
        raise OAuthRejection(401, "unknown, expired or already used OAuth state")


async def _exchange_code(settings: Settings, shop: str, code: str) -> dict[str, Any]:
    try:
        async with _oauth_client(settings) as client:
            token: dict[str, Any] = await client.fetch_token(
                f"https://{shop}/admin/oauth/access_token", code=code
            )
    except (OAuthError, httpx.HTTPError, ValueError) as exc:
        log.warning("oauth_code_exchange_failed", shop=shop, error=str(exc))
        raise OAuthRejection(502, "Shopify did not accept the authorization code") from exc
    if not isinstance(token.get("access_token"), str) or not token["access_token"]:
        raise OAuthRejection(502, "Shopify's token response has no access token")
    return token


def _oauth_client(settings: Settings) -> Any:
    # Shopify wants the client credentials in the body, and comma-separated scopes.
    return AsyncOAuth2Client(
        client_id=settings.shopify_api_key,
        client_secret=settings.shopify_api_secret,
        token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name
        scope=settings.shopify_scopes,
        redirect_uri=callback_url(settings),
        timeout=_TOKEN_EXCHANGE_TIMEOUT_SECONDS,
    )


def _rejected(rejection: OAuthRejection) -> Response:
    return JSONResponse({"error": rejection.message}, status_code=rejection.status_code)
