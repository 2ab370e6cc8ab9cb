"""A shop that uninstalled LoyalNest: every kind of token for it stops working (session, staff,
customer tokens and API keys, and the storefront's token exchange), other shops are served
as before, and a reinstall brings the shop back. Its data stays until shop/redact."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.admin.merchants.service import record_app_install, record_uninstall
from subgraphs.kit.api_keys import create_api_key
from subgraphs.kit.permissions import Capability
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant, add_customer
from tests.gateway.auth.test_app_proxy import enrolled, proxy_params, proxy_signed
from tests.gateway.auth.test_tokens import (
    assert_unauthenticated,
    bearer,
    customer_token,
    staff_token,
)
from tests.ids import gid

CUSTOMER = "query($id: ID!) { customer(id: $id) { id pointsBalance } }"
MERCHANT = "{ merchant { id shopDomain } }"


async def uninstall(resources: Resources, tenant: Tenant) -> None:
    async with system_unit_of_work(resources.sessions) as session:
        await record_uninstall(session, tenant.merchant_id, now=datetime.now(UTC))
    # What the app/uninstalled webhook does in the worker reaches a subgraph process once its
    # shop lookup expires (a minute); here the lookup is dropped at once.
    resources.merchants.forget(tenant.shop_domain)


async def reinstall(resources: Resources, tenant: Tenant) -> None:
    async with system_unit_of_work(resources.sessions) as session:
        await record_app_install(
            session, resources.cipher, tenant.shop_domain, access_token="shpat_x", scopes=""
        )
    resources.merchants.forget(tenant.shop_domain)


async def test_no_token_of_an_uninstalled_shop_authenticates(
    points_client: SubgraphClient,
    admin_client: SubgraphClient,
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    customer_id = await add_customer(resources, tenant, points=40)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        key = await create_api_key(
            session,
            tenant.merchant_id,
            label="crm",
            scopes=[Capability.READ_CUSTOMERS],
            created_by="test",
        )
    callers = {
        "session": tenant.headers,
        "staff": staff_token(resources, tenant, "admin:full"),
        "customer": customer_token(resources, tenant.shop_domain, customer_id),
        "api key": bearer(key.key),
    }
    for name, headers in callers.items():
        result = await points_client.execute(
            CUSTOMER, {"id": gid("Customer", customer_id)}, headers=headers
        )
        assert result["data"]["customer"]["id"] == gid("Customer", customer_id), (name, result)

    await uninstall(resources, tenant)

    for name, headers in callers.items():
        result = await points_client.execute(
            CUSTOMER, {"id": gid("Customer", customer_id)}, headers=headers
        )
        assert result.get("data") in (None, {"customer": None}), (name, result)
        reason = "uninstalled" if name == "api key" else "has not installed LoyalNest"
        assert_unauthenticated(result, reason)
    # Another shop is served as before.
    theirs = await admin_client.execute(MERCHANT, tenant=other_tenant)
    assert theirs["data"]["merchant"]["shopDomain"] == other_tenant.shop_domain

    await reinstall(resources, tenant)

    for name, headers in callers.items():
        result = await points_client.execute(
            CUSTOMER, {"id": gid("Customer", customer_id)}, headers=headers
        )
        assert result["data"]["customer"]["pointsBalance"] == "40", (name, result)


async def test_the_storefront_gets_no_token_for_an_uninstalled_shop(
    auth_http: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    _, shopify_id = await enrolled(resources, tenant)
    await uninstall(resources, tenant)

    response = await auth_http.get(
        "/proxy/token", params=proxy_signed(proxy_params(tenant.shop_domain, shopify_id))
    )

    assert response.status_code == 401
    assert "has not installed LoyalNest" in response.json()["error"]
