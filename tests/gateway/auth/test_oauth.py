"""Shopify OAuth install: a signed install request leads to Shopify's consent screen with a
one-time state; a signed callback carrying that state installs the merchant and stores the
access token encrypted. Anything unsigned, unknown or replayed installs and stores nothing.
Shopify's token endpoint is mocked with respx; Postgres and Redis are real."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from sqlalchemy import select, update

from db.encryption_contexts import MERCHANTS_API_TOKEN
from db.models import AuditLog, Merchant
from db.session import system_unit_of_work, tenant_unit_of_work
from gateway.edge.auth.oauth import state_key
from subgraphs.admin.merchants.service import install_merchant
from subgraphs.kit.resources import Resources
from tests.conftest import TEST_API_KEY, TEST_APP_SECRET

ACCESS_TOKEN = "shpat_0123456789abcdef"
GRANTED = {"access_token": ACCESS_TOKEN, "scope": "read_customers,read_orders,write_discounts"}


def new_shop() -> str:
    return f"oauth-{uuid.uuid4().hex[:10]}.myshopify.com"


def shopify_signed(params: dict[str, str], secret: str = TEST_APP_SECRET) -> dict[str, str]:
    """Shopify's documented recipe: sorted key=value pairs joined with &, hex HMAC-SHA256."""
    message = "&".join(f"{key}={value}" for key, value in sorted(params.items()))
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return {**params, "hmac": digest}


def install_params(shop: str) -> dict[str, str]:
    return shopify_signed({"shop": shop, "timestamp": str(int(time.time()))})


def callback_params(shop: str, state: str, code: str = "auth-code-1") -> dict[str, str]:
    return shopify_signed(
        {
            "code": code,
            "shop": shop,
            "state": state,
            "timestamp": str(int(time.time())),
            "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvdGVzdA",
        }
    )


def token_endpoint(router: respx.MockRouter, shop: str, **response: Any) -> respx.Route:
    return router.post(f"https://{shop}/admin/oauth/access_token").mock(
        return_value=httpx.Response(response.pop("status", 200), json=response or GRANTED)
    )


async def start_install(auth_http: httpx.AsyncClient, shop: str) -> str:
    response = await auth_http.get("/auth/install", params=install_params(shop))
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["state"][0]


async def merchant_row(resources: Resources, shop: str) -> Merchant | None:
    async with system_unit_of_work(resources.sessions) as session:
        result = await session.scalars(select(Merchant).where(Merchant.shop_domain == shop))
        return result.one_or_none()


async def audit_actions(resources: Resources, merchant_id: str) -> list[tuple[str, Any]]:
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        rows = await session.scalars(select(AuditLog).order_by(AuditLog.created_at))
        return [(row.action, row.metadata_) for row in rows]


# --- install --------------------------------------------------------------------------------


async def test_install_sends_the_merchant_to_consent_with_a_one_time_state(
    auth_http: httpx.AsyncClient, resources: Resources
) -> None:
    shop = new_shop()

    response = await auth_http.get("/auth/install", params=install_params(shop))

    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    query = {name: values[0] for name, values in parse_qs(location.query).items()}
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        shop,
        "/admin/oauth/authorize",
    )
    assert query["client_id"] == TEST_API_KEY
    assert query["scope"] == resources.settings.shopify_scopes
    assert query["redirect_uri"] == f"{resources.settings.app_url}/auth/callback"
    assert len(query["state"]) >= 32
    assert await resources.redis.get(state_key(query["state"])) == shop.encode()
    assert 0 < await resources.redis.ttl(state_key(query["state"])) <= 600


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: {**p, "hmac": "0" * 64}, id="wrong-hmac"),
        pytest.param(lambda p: {k: v for k, v in p.items() if k != "hmac"}, id="no-hmac"),
        pytest.param(lambda p: {**p, "shop": "victim.myshopify.com"}, id="shop-changed"),
        pytest.param(lambda p: shopify_signed(p, secret="guess"), id="another-secret"),
    ],
)
async def test_install_without_shopifys_signature_is_refused(
    auth_http: httpx.AsyncClient, tamper: Any
) -> None:
    params = {k: v for k, v in install_params(new_shop()).items() if k != "hmac"}
    signed = shopify_signed(params)

    response = await auth_http.get("/auth/install", params=tamper(signed))

    assert response.status_code == 401
    assert "hmac" in response.json()["error"]


@pytest.mark.parametrize("shop", ["evil.com", "shop.myshopify.com.evil.com", ""])
async def test_install_for_something_that_is_not_a_shop_is_refused(
    auth_http: httpx.AsyncClient, shop: str
) -> None:
    response = await auth_http.get("/auth/install", params=install_params(shop))

    assert response.status_code == 400


# --- callback -------------------------------------------------------------------------------


async def test_a_good_callback_installs_and_stores_the_token_encrypted(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    shop = new_shop()
    exchange = token_endpoint(shopify, shop)
    state = await start_install(auth_http, shop)

    response = await auth_http.get("/auth/callback", params=callback_params(shop, state))

    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == resources.settings.app_url
    assert parse_qs(location.query)["shop"] == [shop]
    sent = parse_qs(exchange.calls.last.request.content.decode())
    assert (sent["client_id"], sent["client_secret"], sent["code"]) == (
        [TEST_API_KEY],
        [TEST_APP_SECRET],
        ["auth-code-1"],
    )
    merchant = await merchant_row(resources, shop)
    assert merchant is not None
    assert merchant.api_token_encrypted is not None
    assert ACCESS_TOKEN not in merchant.api_token_encrypted
    stored = resources.cipher.decrypt(merchant.api_token_encrypted, context=MERCHANTS_API_TOKEN)
    assert stored == ACCESS_TOKEN
    actions = await audit_actions(resources, merchant.id)
    assert ("app_installed", {"scopes": GRANTED["scope"], "reinstalled": False}) in actions


async def test_a_state_is_good_for_one_callback_only(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    shop = new_shop()
    exchange = token_endpoint(shopify, shop)
    state = await start_install(auth_http, shop)
    first = await auth_http.get("/auth/callback", params=callback_params(shop, state))
    assert first.status_code == 302

    replay = await auth_http.get("/auth/callback", params=callback_params(shop, state, "code-2"))

    assert replay.status_code == 401
    assert "state" in replay.json()["error"]
    assert exchange.call_count == 1


async def test_a_callback_with_an_unknown_state_stores_nothing(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    shop = new_shop()
    exchange = token_endpoint(shopify, shop)

    response = await auth_http.get("/auth/callback", params=callback_params(shop, "made-up"))

    assert response.status_code == 401
    assert not exchange.called
    assert await merchant_row(resources, shop) is None


async def test_a_state_started_for_one_shop_cannot_install_another(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    shop, other = new_shop(), new_shop()
    exchange = token_endpoint(shopify, other)
    state = await start_install(auth_http, shop)

    response = await auth_http.get("/auth/callback", params=callback_params(other, state))

    assert response.status_code == 401
    assert not exchange.called
    assert await merchant_row(resources, other) is None


async def test_a_callback_without_shopifys_signature_stores_nothing(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    shop = new_shop()
    exchange = token_endpoint(shopify, shop)
    state = await start_install(auth_http, shop)
    params = {**callback_params(shop, state), "code": "attacker-code"}

    response = await auth_http.get("/auth/callback", params=params)

    assert response.status_code == 401
    assert not exchange.called
    assert await merchant_row(resources, shop) is None
    # The state was not spent by the forgery: the real callback still works.
    assert await resources.redis.exists(state_key(state))


async def test_a_code_shopify_refuses_installs_nothing(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    shop = new_shop()
    token_endpoint(
        shopify,
        shop,
        status=400,
        error="invalid_request",
        error_description="The authorization code was not found or was already used",
    )
    state = await start_install(auth_http, shop)

    response = await auth_http.get("/auth/callback", params=callback_params(shop, state))

    assert response.status_code == 502
    assert await merchant_row(resources, shop) is None


async def test_reinstalling_replaces_the_token_and_clears_the_uninstall(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    shop = new_shop()
    async with system_unit_of_work(resources.sessions) as session:
        merchant = await install_merchant(session, shop)
        await session.execute(
            update(Merchant)
            .where(Merchant.id == merchant.id)
            .values(
                uninstalled_at=datetime.now(UTC),
                api_token_encrypted=resources.cipher.encrypt("old", context=MERCHANTS_API_TOKEN),
            )
        )
    token_endpoint(shopify, shop)
    state = await start_install(auth_http, shop)

    response = await auth_http.get("/auth/callback", params=callback_params(shop, state))

    assert response.status_code == 302
    row = await merchant_row(resources, shop)
    assert row is not None
    assert row.id == merchant.id
    assert row.uninstalled_at is None
    assert row.api_token_encrypted is not None
    assert resources.cipher.decrypt(row.api_token_encrypted, context=MERCHANTS_API_TOKEN) == (
        ACCESS_TOKEN
    )
    actions = await audit_actions(resources, merchant.id)
    assert ("app_installed", {"scopes": GRANTED["scope"], "reinstalled": True}) in actions
