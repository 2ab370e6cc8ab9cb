"""A webhook signed by Shopify's own Node library (``@shopify/shopify-api``) is accepted at the
shim over real HTTP, whatever its body holds; the same signature on a changed body is 401 and
stores nothing."""

from __future__ import annotations

import json

import httpx
import pytest

from subgraphs.kit.resources import Resources
from tests.conftest import TEST_APP_SECRET, Tenant
from tests.gateway.webhooks.shopify import customer_payload, inbox, signed
from tests.shopify_js import VALUE_SHAPES, js_signature


@pytest.mark.parametrize("value", VALUE_SHAPES.values(), ids=VALUE_SHAPES.keys())
async def test_a_delivery_signed_by_the_node_library_is_accepted_and_a_changed_one_refused(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant, value: str
) -> None:
    payload = {**customer_payload(91, "js@example.com"), "note": value}
    # Unescaped non-ASCII, as Shopify sends it: the signature is over the UTF-8 bytes.
    body = json.dumps(payload, ensure_ascii=False)
    headers = signed("customers/create", payload, shop=tenant.shop_domain).headers
    headers["x-shopify-hmac-sha256"] = js_signature("webhook", TEST_APP_SECRET, body=body)

    changed = await edge.post(
        "/webhooks/shopify",
        content=body.replace("js@example.com", "js2@example.com").encode(),
        headers=headers,
    )
    assert changed.status_code == 401
    assert await inbox(resources, tenant.merchant_id) == []

    accepted = await edge.post("/webhooks/shopify", content=body.encode(), headers=headers)
    assert accepted.status_code == 200, accepted.text
    assert len(await inbox(resources, tenant.merchant_id)) == 1
