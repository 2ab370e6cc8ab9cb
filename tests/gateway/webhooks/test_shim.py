"""The shim over real HTTP: verify, store once, acknowledge; the worker applies each event once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from db.encryption_contexts import API_LOGS_PAYLOAD
from db.models import Customer, PointsTransaction
from db.session import tenant_unit_of_work
from gateway.edge.webhooks.verification import webhook_signature
from subgraphs.kit.resources import Resources
from tests.conftest import TEST_APP_SECRET, Tenant
from tests.gateway.webhooks.shopify import deliver, inbox, order_payload, signed
from worker.webhooks.processing import DeliveryOutcome, process_delivery


async def test_a_signed_delivery_is_stored_once_and_acknowledged(
    edge: httpx.AsyncClient,
    resources: Resources,
    tenant: Tenant,
    inbox_wakeups: asyncio.Queue[str],
) -> None:
    payload = order_payload(1001, lines=[(1, 2, "10.00")], customer_id=77, email="a@example.com")

    response = await deliver(edge, "orders/create", payload, shop=tenant.shop_domain)

    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    rows = await inbox(resources, tenant.merchant_id)
    assert len(rows) == 1
    row = rows[0]
    assert (row["topic"], row["status"], row["shopify_customer_id"]) == (
        "orders/create",
        "pending",
        "77",
    )
    # Stored encrypted: the email is not readable in the table, and the body round-trips.
    assert "a@example.com" not in row["payload_encrypted"]
    stored = resources.cipher.decrypt(row["payload_encrypted"], context=API_LOGS_PAYLOAD)
    assert orjson.loads(stored) == payload
    # Its commit woke the worker, through Postgres: no Redis on the way in.
    assert await asyncio.wait_for(inbox_wakeups.get(), timeout=5) == tenant.merchant_id


async def test_a_wrong_signature_is_401_and_stores_nothing(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    payload = order_payload(1002, lines=[(1, 1, "5.00")], customer_id=78, email="b@example.com")

    forged = await deliver(
        edge, "orders/create", payload, shop=tenant.shop_domain, secret="not-the-app-secret"
    )
    delivery = signed("orders/create", payload, shop=tenant.shop_domain)
    tampered = await edge.post(
        "/webhooks/shopify",
        content=delivery.body.replace(b"5.00", b"500.00"),
        headers=delivery.headers,
    )
    unsigned_headers = {k: v for k, v in delivery.headers.items() if k != "x-shopify-hmac-sha256"}
    unsigned = await edge.post("/webhooks/shopify", content=delivery.body, headers=unsigned_headers)

    assert [forged.status_code, tampered.status_code, unsigned.status_code] == [401, 401, 401]
    assert await inbox(resources, tenant.merchant_id) == []


async def test_ten_concurrent_copies_make_one_row_and_one_ledger_effect(
    edge: httpx.AsyncClient,
    resources: Resources,
    tenant: Tenant,
    inbox_wakeups: asyncio.Queue[str],
) -> None:
    payload = order_payload(
        1003, lines=[(1, 1, "40.00"), (2, 2, "5.00")], customer_id=79, email="c@example.com"
    )
    delivery = signed("orders/create", payload, shop=tenant.shop_domain)

    responses = await asyncio.gather(
        *(
            edge.post("/webhooks/shopify", content=delivery.body, headers=delivery.headers)
            for _ in range(10)
        )
    )

    assert [r.status_code for r in responses] == [200] * 10
    assert sorted(r.json()["status"] for r in responses) == ["accepted"] + ["duplicate"] * 9
    rows = await inbox(resources, tenant.merchant_id)
    assert len(rows) == 1
    # The worker is woken for the one stored; the nine duplicates store nothing and wake nobody.
    assert await asyncio.wait_for(inbox_wakeups.get(), timeout=5) == tenant.merchant_id
    await asyncio.sleep(0.2)
    assert inbox_wakeups.empty()
    # Ten workers racing for the same row: one applies it, the rest find nothing to claim.
    outcomes = await asyncio.gather(
        *(process_delivery(resources, tenant.merchant_id, rows[0]["id"]) for _ in range(10))
    )
    assert sorted(o.value for o in outcomes) == ["done"] + ["skipped"] * 9
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        earned = (
            await session.execute(
                select(func.count(), func.sum(PointsTransaction.points)).where(
                    PointsTransaction.merchant_id == tenant.merchant_id,
                    PointsTransaction.order_id == "1003",
                )
            )
        ).one()
        balance = await session.scalar(
            select(Customer.points_balance).where(
                Customer.merchant_id == tenant.merchant_id, Customer.shopify_customer_id == "79"
            )
        )
    assert earned[0] == 1
    assert earned[1] > 0
    assert balance == earned[1]
    done = await inbox(resources, tenant.merchant_id)
    assert done[0]["status"] == "done"
    assert done[0]["payload_encrypted"] is None


async def test_an_oversized_body_is_413_and_stores_nothing(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    limit = resources.settings.webhook_max_body_bytes
    payload = order_payload(1004, lines=[(1, 1, "5.00")], customer_id=80, email="d@example.com")
    payload["note"] = "x" * (limit + 1)
    delivery = signed("orders/create", payload, shop=tenant.shop_domain)

    declared = await edge.post("/webhooks/shopify", content=delivery.body, headers=delivery.headers)

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the limit must hold while the body streams in.
        for start in range(0, len(delivery.body), 65536):
            yield delivery.body[start : start + 65536]

    streamed = await edge.post("/webhooks/shopify", content=chunks(), headers=delivery.headers)

    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert await inbox(resources, tenant.merchant_id) == []


async def test_unknown_shops_and_topics_get_clear_4xx(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    payload = order_payload(1005, lines=[(1, 1, "5.00")])
    unknown_shop = f"nobody{uuid.uuid4().hex[:8]}.myshopify.com"

    not_installed = await deliver(edge, "orders/create", payload, shop=unknown_shop)
    unsupported = await deliver(edge, "products/update", {"id": 1}, shop=tenant.shop_domain)
    erased_already = await deliver(edge, "shop/redact", {"shop_id": 1}, shop=unknown_shop)

    assert not_installed.status_code == 404
    assert "has not installed" in not_installed.json()["error"]
    assert unsupported.status_code == 400
    assert "unsupported topic" in unsupported.json()["error"]
    # Shopify's erasure for a shop with nothing held is answered, not retried for 48 hours.
    assert erased_already.status_code == 200
    assert await inbox(resources, tenant.merchant_id) == []


async def test_a_malformed_payload_fails_at_once_with_its_reason(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    response = await deliver(
        edge, "orders/create", {"id": 1006, "line_items": "nope"}, shop=tenant.shop_domain
    )
    assert response.status_code == 200
    [row] = await inbox(resources, tenant.merchant_id)

    outcome = await process_delivery(resources, tenant.merchant_id, row["id"])

    assert outcome is DeliveryOutcome.FAILED
    [failed] = await inbox(resources, tenant.merchant_id)
    assert failed["status"] == "failed"
    assert failed["attempts"] == 1
    assert "ShopifyOrderPayload" in failed["last_error"]


async def test_a_signed_delivery_with_a_nul_is_stored_and_fails_once_with_its_reason(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    payload = order_payload(1007, lines=[(1, 1, "5.00")], customer_id="77\x00", email="n@x.io")

    response = await deliver(edge, "orders/create", payload, shop=tenant.shop_domain)

    # Stored, as it came (Shopify retries a 5xx, then drops the subscription).
    assert response.status_code == 200, response.text
    [row] = await inbox(resources, tenant.merchant_id)
    assert row["shopify_customer_id"] is None
    stored = resources.cipher.decrypt(row["payload_encrypted"], context=API_LOGS_PAYLOAD)
    assert orjson.loads(stored) == payload

    outcome = await process_delivery(resources, tenant.merchant_id, row["id"])

    assert outcome is DeliveryOutcome.FAILED
    [failed] = await inbox(resources, tenant.merchant_id)
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert "customer.id" in failed["last_error"]
    assert "NUL" in failed["last_error"]


async def test_a_signed_delivery_with_a_nul_in_a_header_or_odd_shop_is_a_clear_400(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    delivery = signed("orders/create", order_payload(1008, lines=[(1, 1, "5.00")]), shop="x")

    odd_shop = await edge.post("/webhooks/shopify", content=delivery.body, headers=delivery.headers)

    assert odd_shop.status_code == 400
    assert "myshopify.com" in odd_shop.json()["error"]


async def test_an_amount_postgres_cannot_hold_fails_once_not_as_transient(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    # A valid number, beyond NUMERIC(14, 2) of the customer's total spent: Postgres refuses
    # it (numeric field overflow), and will refuse it again on every retry.
    payload = order_payload(1009, lines=[(1, 1, "1e20")], customer_id=79, email="big@example.com")
    response = await deliver(edge, "orders/paid", payload, shop=tenant.shop_domain)
    assert response.status_code == 200
    [row] = await inbox(resources, tenant.merchant_id)

    outcome = await process_delivery(resources, tenant.merchant_id, row["id"])

    assert outcome is DeliveryOutcome.FAILED
    [failed] = await inbox(resources, tenant.merchant_id)
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["last_error"]


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (
            "refunds/create",
            {
                "id": 1,
                "order_id": 5,
                "refund_line_items": [{"line_item_id": 1, "quantity": "x", "subtotal": {}}],
            },
        ),
        ("refunds/create", {"id": 2, "order_id": 5, "refund_line_items": "nope"}),
        ("orders/cancelled", {"id": {"nested": True}}),
        ("customers/create", {"id": 5, "email": ["not", "a", "string"]}),
        ("customers/redact", {"customer": "not an object"}),
    ],
    ids=[
        "refund-line-types",
        "refund-lines-not-a-list",
        "order-id-object",
        "email-list",
        "redact-customer-string",
    ],
)
async def test_a_payload_of_the_wrong_types_fails_once(
    edge: httpx.AsyncClient,
    resources: Resources,
    tenant: Tenant,
    topic: str,
    payload: dict[str, Any],
) -> None:
    response = await deliver(edge, topic, payload, shop=tenant.shop_domain)
    assert response.status_code == 200, response.text
    [row] = await inbox(resources, tenant.merchant_id)

    outcome = await process_delivery(resources, tenant.merchant_id, row["id"])

    [after] = await inbox(resources, tenant.merchant_id)
    # Done (nothing to apply) or failed for good: never retried as if it were transient.
    # (These held before issue 11's fix too; they guard is_permanent's classification.)
    assert outcome in (DeliveryOutcome.FAILED, DeliveryOutcome.DONE), after["last_error"]
    assert after["attempts"] == 1


async def test_a_signed_delivery_with_a_lone_surrogate_is_stored_and_fails_once(
    edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    # Valid JSON (an escaped lone surrogate is in its grammar) that no text column can hold.
    body = b'{"id": 1010, "email": "x\\ud800@example.com", "customer": {"id": 80}}'
    delivery = signed("orders/create", {}, shop=tenant.shop_domain)
    headers = {
        **delivery.headers,
        "x-shopify-hmac-sha256": webhook_signature(body, TEST_APP_SECRET),
    }

    response = await edge.post("/webhooks/shopify", content=body, headers=headers)

    assert response.status_code == 200, response.text
    [row] = await inbox(resources, tenant.merchant_id)
    outcome = await process_delivery(resources, tenant.merchant_id, row["id"])
    assert outcome is DeliveryOutcome.FAILED
    [failed] = await inbox(resources, tenant.merchant_id)
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert "email" in failed["last_error"]
    assert "surrogate" in failed["last_error"]
