"""OAuth callbacks and app-proxy requests signed by Shopify's own Node library
(``@shopify/shopify-api``) are accepted whatever their values hold, and a tampered copy of
each is refused. The library form-encodes OAuth values before signing while Shopify's docs and
Python library sign them decoded; ``shopify_signatures`` accepts both (see its docstring)."""

from __future__ import annotations

import time

import httpx
import pytest
import respx

from gateway.edge.auth.oauth import state_key
from subgraphs.kit.resources import Resources
from tests.conftest import TEST_APP_SECRET, Tenant
from tests.gateway.auth.test_app_proxy import enrolled, proxy_params
from tests.gateway.auth.test_oauth import merchant_row, new_shop, start_install, token_endpoint
from tests.ids import gid
from tests.shopify_js import VALUE_SHAPES, js_signature

SHAPES = pytest.mark.parametrize("value", VALUE_SHAPES.values(), ids=VALUE_SHAPES.keys())


def js_signed_callback(shop: str, state: str, host: str) -> dict[str, str]:
    params = {
        "code": "auth-code-1",
        "shop": shop,
        "state": state,
        "timestamp": str(int(time.time())),
        "host": host,
    }
    return {**params, "hmac": js_signature("oauth", TEST_APP_SECRET, query=params)}


@SHAPES
async def test_a_callback_signed_by_the_node_library_installs(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter, value: str
) -> None:
    shop = new_shop()
    exchange = token_endpoint(shopify, shop)
    state = await start_install(auth_http, shop)

    response = await auth_http.get("/auth/callback", params=js_signed_callback(shop, state, value))

    assert response.status_code == 302, response.text
    assert exchange.called
    assert await merchant_row(resources, shop) is not None


@SHAPES
async def test_a_tampered_callback_signed_by_the_node_library_is_refused(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter, value: str
) -> None:
    shop = new_shop()
    exchange = token_endpoint(shopify, shop)
    state = await start_install(auth_http, shop)
    params = js_signed_callback(shop, state, value)

    for tampered in ({**params, "host": value + "x"}, {**params, "code": "attacker-code"}):
        response = await auth_http.get("/auth/callback", params=tampered)
        assert response.status_code == 401, response.text

    assert not exchange.called
    assert await merchant_row(resources, shop) is None
    assert await resources.redis.exists(state_key(state))


async def test_a_repeated_key_is_refused_as_the_node_library_signs_only_its_last_value(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    shop = new_shop()
    exchange = token_endpoint(shopify, shop)
    state = await start_install(auth_http, shop)
    signed = js_signed_callback(shop, state, "aG9zdA")
    # What a Node app would accept: the signature covers shop=<last value> only.
    smuggled: list[tuple[str, str | int | float | bool | None]] = [
        ("shop", "evil.myshopify.com"),
        *signed.items(),
    ]

    response = await auth_http.get("/auth/callback", params=httpx.QueryParams(smuggled))

    assert response.status_code == 401, response.text
    assert not exchange.called


def js_signed_proxy(params: list[tuple[str, str]]) -> httpx.QueryParams:
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        grouped.setdefault(key, []).append(value)
    query = {key: values if len(values) > 1 else values[0] for key, values in grouped.items()}
    signature = js_signature("proxy", TEST_APP_SECRET, query=query)
    return httpx.QueryParams([*params, ("signature", signature)])


@SHAPES
async def test_an_app_proxy_request_signed_by_the_node_library_gets_a_token(
    auth_http: httpx.AsyncClient, resources: Resources, tenant: Tenant, value: str
) -> None:
    customer_id, shopify_id = await enrolled(resources, tenant)
    # The storefront's own query rides along: a repeated key, and a value of this shape.
    params = [*proxy_params(tenant.shop_domain, shopify_id), ("q", value), ("tag", "b")]
    params.append(("tag", "a"))

    response = await auth_http.get("/proxy/token", params=js_signed_proxy(params))
    tampered = [(key, value + "x" if key == "q" else value) for key, value in params]
    signature = js_signed_proxy(params)["signature"]
    refused = await auth_http.get(
        "/proxy/token", params=httpx.QueryParams([*tampered, ("signature", signature)])
    )
    reordered: list[tuple[str, str | int | float | bool | None]] = [
        *params[:-2],
        ("tag", "a"),
        ("tag", "b"),
        ("signature", signature),
    ]
    refused_order = await auth_http.get("/proxy/token", params=httpx.QueryParams(reordered))

    assert response.status_code == 200, response.text
    assert response.json()["customerId"] == gid("Customer", customer_id)
    assert refused.status_code == 401
    assert refused_order.status_code == 401
