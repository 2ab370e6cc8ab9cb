"""The storefront's token exchange: a fresh request signed by Shopify's app proxy for a
logged-in, enrolled customer gets a short-lived customer token that reads that customer, and
only that customer. Anything else gets no token."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.points.customers.service import register_customer
from tests.conftest import TEST_APP_SECRET, SubgraphClient, Tenant, add_customer
from tests.ids import gid

CUSTOMER = "query($id: ID!) { customer(id: $id) { id pointsBalance } }"
Params = list[tuple[str, str]]


def proxy_signed(params: Params, secret: str = TEST_APP_SECRET) -> httpx.QueryParams:
    """Shopify's documented recipe: sorted key=value pairs (a repeated key's values joined
    with commas), concatenated without separator, hex HMAC-SHA256."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        grouped.setdefault(key, []).append(value)
    message = "".join(sorted(f"{key}={','.join(values)}" for key, values in grouped.items()))
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return httpx.QueryParams([*params, ("signature", signature)])


def proxy_params(shop: str, shopify_customer_id: str, *, age: int = 0) -> Params:
    return [
        ("shop", shop),
        ("logged_in_customer_id", shopify_customer_id),
        ("path_prefix", "/apps/loyalty"),
        ("timestamp", str(int(time.time()) - age)),
    ]


async def enrolled(resources: Resources, tenant: Tenant) -> tuple[str, str]:
    """(our customer id, their Shopify customer id)"""
    shopify_id = str(uuid.uuid4().int % 10**13)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        customer_id = await register_customer(
            session,
            tenant.merchant_id,
            resources.cipher,
            email=f"{shopify_id}@example.com",
            shopify_customer_id=shopify_id,
        )
    return customer_id, shopify_id


async def test_a_logged_in_customer_gets_a_token_for_themselves(
    auth_http: httpx.AsyncClient,
    points_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
) -> None:
    customer_id, shopify_id = await enrolled(resources, tenant)
    neighbour = await add_customer(resources, tenant)

    response = await auth_http.get(
        "/proxy/token", params=proxy_signed(proxy_params(tenant.shop_domain, shopify_id))
    )

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["customerId"] == gid("Customer", customer_id)
    expires_at = datetime.fromisoformat(body["expiresAt"])
    assert timedelta(minutes=14) < expires_at - datetime.now(UTC) <= timedelta(minutes=15)
    headers = {"authorization": f"Bearer {body['token']}"}
    mine = await points_client.execute(
        CUSTOMER, {"id": gid("Customer", customer_id)}, headers=headers
    )
    theirs = await points_client.execute(
        CUSTOMER, {"id": gid("Customer", neighbour)}, headers=headers
    )
    assert mine == {
        "data": {"customer": {"id": gid("Customer", customer_id), "pointsBalance": "0"}}
    }
    assert theirs["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_repeated_parameters_are_signed_comma_joined(
    auth_http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    _, shopify_id = await enrolled(resources, tenant)
    params = [*proxy_params(tenant.shop_domain, shopify_id), ("tag", "b"), ("tag", "a")]

    response = await auth_http.get("/proxy/token", params=proxy_signed(params))

    assert response.status_code == 200, response.text


async def test_nobody_logged_in_gets_no_token(auth_http: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await auth_http.get(
        "/proxy/token", params=proxy_signed(proxy_params(tenant.shop_domain, ""))
    )

    assert response.status_code == 401
    assert "logged in" in response.json()["error"]


async def test_a_customer_not_enrolled_is_not_found(
    auth_http: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await auth_http.get(
        "/proxy/token", params=proxy_signed(proxy_params(tenant.shop_domain, "999000111"))
    )

    assert response.status_code == 404
    assert response.json() == {"error": "this customer is not enrolled in the loyalty program yet"}


async def test_a_customer_of_another_shop_is_not_found_here(
    auth_http: httpx.AsyncClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    _, theirs = await enrolled(resources, other_tenant)

    response = await auth_http.get(
        "/proxy/token", params=proxy_signed(proxy_params(tenant.shop_domain, theirs))
    )

    assert response.status_code == 404


async def test_a_shop_that_never_installed_gets_no_token(auth_http: httpx.AsyncClient) -> None:
    response = await auth_http.get(
        "/proxy/token", params=proxy_signed(proxy_params("nobody-here.myshopify.com", "1"))
    )

    assert response.status_code == 401
    assert "installed" in response.json()["error"]


@pytest.mark.parametrize("age", [600, -600], ids=["stale", "from-the-future"])
async def test_an_old_signature_is_refused(
    auth_http: httpx.AsyncClient, resources: Resources, tenant: Tenant, age: int
) -> None:
    _, shopify_id = await enrolled(resources, tenant)

    response = await auth_http.get(
        "/proxy/token", params=proxy_signed(proxy_params(tenant.shop_domain, shopify_id, age=age))
    )

    assert response.status_code == 401
    assert "old" in response.json()["error"]


async def test_a_request_not_signed_by_shopify_is_refused(
    auth_http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    _, mine = await enrolled(resources, tenant)
    _, neighbours = await enrolled(resources, tenant)
    signed_for_me = proxy_signed(proxy_params(tenant.shop_domain, mine))
    # Someone swaps in another customer's id but cannot re-sign.
    swapped = signed_for_me.set("logged_in_customer_id", neighbours)
    cases = {
        "swapped": swapped,
        "unsigned": httpx.QueryParams(tuple(proxy_params(tenant.shop_domain, mine))),
        "another-secret": proxy_signed(proxy_params(tenant.shop_domain, mine), secret="guess"),
    }

    for name, params in cases.items():
        response = await auth_http.get("/proxy/token", params=params)

        assert response.status_code == 401, name
        assert "token" not in response.json(), name


@pytest.mark.parametrize("customer_id", ["12\x0034", "\x00", "gid://shopify/Customer/1", "1" * 21])
async def test_a_signed_request_with_no_customer_id_shopify_makes_is_400_not_500(
    auth_http: httpx.AsyncClient, tenant: Tenant, customer_id: str
) -> None:
    params = proxy_signed(proxy_params(tenant.shop_domain, customer_id))

    response = await auth_http.get("/proxy/token", params=params)

    assert response.status_code == 400, response.text
    assert "logged_in_customer_id" in response.json()["error"]
    assert "token" not in response.json()
