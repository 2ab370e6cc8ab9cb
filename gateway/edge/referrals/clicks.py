"""Where a referral link lands: the click is counted (once per visitor per link per day) and
the visitor goes on to the shop with the code, which the storefront keeps for attribution.

- ``GET /proxy/r/{code}``: the link as shared, ``https://<shop>/apps/loyalnest/r/<code>``,
  forwarded by Shopify's app proxy (signed: the shop is the one Shopify says). The visitor's
  IP is the first ``X-Forwarded-For`` hop Shopify adds. Redirects to ``/?ref=<code>`` on the
  shop's own domain.
- ``GET /r/{shop}/{code}``: the same without an app proxy (an email or SMS share, a shop that
  has not set one up): redirects to ``https://<shop>/?ref=<code>``.

A shopper's click is never refused: an unsigned, stale or unknown one still reaches the shop,
it is only not counted; so do clicks from one IP past ``referral_click_rate_limit``."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from db.session import tenant_unit_of_work
from gateway.edge.auth.app_proxy import signature_is_fresh
from gateway.edge.auth.shopify_signatures import app_proxy_query_is_authentic
from subgraphs.admin.merchants.service import InvalidShopDomainError, normalize_shop_domain
from subgraphs.kit.rate_limits import parse_limit
from subgraphs.kit.resources import Resources
from subgraphs.kit.validation import string_refusal
from subgraphs.referrals.activity.service import ActivityKind, announce
from subgraphs.referrals.clicks.service import Visit, record_click

MAX_CODE_LENGTH = 32
# The landing page must not be cached: every visit is a click to count.
_NO_STORE = {"cache-control": "no-store"}


def referral_click_routes() -> list[BaseRoute]:
    return [
        Route("/proxy/r/{code}", proxied_click, methods=["GET"]),
        Route("/r/{shop}/{code}", direct_click, methods=["GET"]),
    ]


async def proxied_click(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    code = _code(request)
    params = request.query_params
    signed = app_proxy_query_is_authentic(
        params.multi_items(), resources.settings.shopify_api_secret
    ) and signature_is_fresh(params.get("timestamp"))
    landing = "/" if code is None else f"/?ref={quote(code)}"
    if signed and code is not None:
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip() or None
        await _count(resources, params.get("shop", ""), code, _visit(request, forwarded))
    return RedirectResponse(landing, status_code=302, headers=_NO_STORE)


async def direct_click(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    try:
        shop = normalize_shop_domain(request.path_params["shop"])
    except InvalidShopDomainError:
        return JSONResponse(
            {"error": "not a *.myshopify.com shop"}, status_code=404, headers=_NO_STORE
        )
    code = _code(request)
    if code is None:
        return RedirectResponse(f"https://{shop}/", status_code=302, headers=_NO_STORE)
    client = request.client.host if request.client else None
    await _count(resources, shop, code, _visit(request, client))
    return RedirectResponse(
        f"https://{shop}/?ref={quote(code)}", status_code=302, headers=_NO_STORE
    )


def _code(request: Request) -> str | None:
    code = str(request.path_params["code"]).strip().upper()
    if not code or len(code) > MAX_CODE_LENGTH or not code.isalnum() or not code.isascii():
        return None
    return code


def _visit(request: Request, ip: str | None) -> Visit:
    user_agent = request.headers.get("user-agent")
    if user_agent is not None and string_refusal(user_agent) is not None:
        user_agent = None
    return Visit(ip=ip if ip and string_refusal(ip) is None else None, user_agent=user_agent)


async def _count(resources: Resources, shop_domain: str, code: str, visit: Visit) -> None:
    try:
        shop = normalize_shop_domain(shop_domain)
    except InvalidShopDomainError:
        return
    merchant_id = await resources.merchants.installed_merchant_id(shop)
    if merchant_id is None:
        return
    if visit.ip is not None:
        limit = parse_limit(resources.settings.referral_click_rate_limit)
        decision = await resources.rate_limiter.hit(limit, "referral_click", visit.ip)
        if not decision.allowed:
            return
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        click = await record_click(
            session, merchant_id, code, visit, resources.cipher, now=datetime.now(UTC)
        )
    if click.counted:
        await announce(resources.pubsub, merchant_id, ActivityKind.CLICK)
