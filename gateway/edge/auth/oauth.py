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

A merchant referral code (``ref``, the referrer's, so outside Shopify's signature; or the
cookie the referral link ``/m/{code}`` left, see ``merchant_referral_link``) rides in
the state: ``<nonce>.<code>``. The callback believes only the code of a state it consumed,
and the Redis record is keyed by the whole state, so a state whose code was edited on the
way is unknown; a ``ref`` on the callback's own query is never read. A malformed code is
dropped at install; neither it nor an unknown one ever fails the install.
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
from gateway.edge.auth.merchant_referral_link import (
    REFERRAL_COOKIE,
    REFERRAL_PARAMETER,
    referral_code_of_visit,
)
from gateway.edge.auth.shopify_signatures import oauth_query_is_authentic
from subgraphs.admin.backfill.service import enqueue_backfill, queue_at_install
from subgraphs.admin.merchant_referrals.service import (
    complete_at_install,
    is_first_install,
    well_formed_code,
)
from subgraphs.admin.merchants.service import (
    InvalidShopDomainError,
    normalize_shop_domain,
    record_app_install,
)
from subgraphs.kit.resources import Resources
from subgraphs.kit.settings import Settings
from subgraphs.kit.write_context import WriteContext

with warnings.catch_warnings():
    # authlib's httpx integration prefers the httpx2 fork and warns when it falls back to httpx,
    # which is the client this project (and respx in its tests) uses.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

log = structlog.get_logger(__name__)

STATE_TTL_SECONDS = 10 * 60
# The referrer's, added to a link Shopify signs or not: left out of the signature check.
_INSTALL_ACTOR = "shopify:install"
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
        shop = _verified_shop(request, resources.settings, unsigned=REFERRAL_PARAMETER)
        state = _new_state(referral_code_of_visit(request), shop)
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
    response = RedirectResponse(str(url), status_code=302)
    # The link's code is in the state now: one install credits it once.
    response.delete_cookie(REFERRAL_COOKIE, path="/auth")
    return response


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
    now = datetime.now(UTC)
    async with system_unit_of_work(resources.sessions) as session:
        first_install = await is_first_install(session, shop)
        merchant, reinstalled = await record_app_install(
            session,
            resources.cipher,
            shop,
            access_token=token["access_token"],
            scopes=str(token.get("scope", "")),
        )
        # The shop's customers and order history come in by a job (committed with the install).
        backfill = await queue_at_install(session, merchant.id, now=now)
        if (referral_code := referral_code_in(state)) is not None:
            await complete_at_install(
                WriteContext(session, merchant.id, _INSTALL_ACTOR, now),
                merchant,
                referral_code,
                first_install=first_install,
            )
    if backfill is not None:
        await enqueue_backfill(resources.redis, merchant.id)
    # This process may remember the shop as uninstalled; other processes forget within a minute.
    resources.merchants.forget(shop)
    log.info("app_installed", shop=shop, merchant_id=merchant.id, reinstalled=reinstalled)
    into_app = {"shop": shop, **({"host": host} if (host := params.get("host")) else {})}
    return RedirectResponse(
        f"{settings.app_url.rstrip('/')}/?{urlencode(into_app)}", status_code=302
    )


def _new_state(referral_code: str | None, shop: str) -> str:
    nonce = secrets.token_urlsafe(32)
    if referral_code is None:
        return nonce
    code = well_formed_code(referral_code)
    if code is None:
        log.info("merchant_referral_ignored", shop=shop, reason="malformed")
        return nonce
    return f"{nonce}.{code}"


def referral_code_in(state: str) -> str | None:
    """The merchant referral code of a state we issued (call only once it is consumed)."""
    _, dot, code = state.partition(".")
    return code if dot and code else None


def _verified_shop(request: Request, settings: Settings, *, unsigned: str | None = None) -> str:
    params = request.query_params
    signed = [(key, value) for key, value in params.multi_items() if key != unsigned]
    secret = settings.shopify_api_secret
    # Shopify may have signed the referral code too (a link it forwarded whole), or not.
    if not (
        oauth_query_is_authentic(params.multi_items(), secret)
        or (len(signed) < len(params.multi_items()) and oauth_query_is_authentic(signed, secret))
    ):
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
