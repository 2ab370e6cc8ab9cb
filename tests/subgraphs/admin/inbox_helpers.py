"""Webhook inbox rows and GDPR requests for admin tests, written the way the shim and the GDPR
handlers write them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import text

from db.encryption_contexts import API_LOGS_PAYLOAD, GDPR_REQUESTS_EXPORT
from db.ids import new_id
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.admin.deliveries.repository import NewDelivery, WebhookDeliveriesRepository
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant


async def add_delivery(
    resources: Resources,
    tenant: Tenant,
    *,
    topic: str = "orders/create",
    status: str = "pending",
    attempts: int = 0,
    last_error: str | None = None,
    created_at: datetime | None = None,
    redacted: bool = False,
) -> str:
    delivery_id = new_id()
    body = orjson.dumps({"id": 820982911946154508, "email": "ann@example.com"}).decode()
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        stored = await WebhookDeliveriesRepository(session, tenant.merchant_id).insert_delivery(
            NewDelivery(
                id=delivery_id,
                topic=topic,
                webhook_id=new_id(),
                event_id=new_id(),
                triggered_at=None,
                api_version="2025-01",
                payload_encrypted=resources.cipher.encrypt(body, context=API_LOGS_PAYLOAD),
                payload_bytes=len(body),
                shopify_customer_id="7001",
            ),
        )
        assert stored
    # As the worker and the redaction handler leave rows; as the owner, because created_at
    # may move the row to another monthly partition.
    async with system_unit_of_work(resources.sessions) as session:
        await session.execute(
            text(
                """
                UPDATE api_logs SET
                    status = :status,
                    attempts = :attempts,
                    last_error = :last_error,
                    created_at = coalesce(CAST(:created_at AS timestamptz), created_at),
                    processed_at = CASE WHEN :status = 'done' THEN now() END,
                    payload_encrypted = CASE
                        WHEN :redacted OR :status = 'done' THEN NULL ELSE payload_encrypted END
                WHERE merchant_id = :merchant_id AND id = :id
                """
            ),
            {
                "status": status,
                "attempts": attempts,
                "last_error": "redacted" if redacted else last_error,
                "created_at": created_at,
                "redacted": redacted,
                "merchant_id": tenant.merchant_id,
                "id": delivery_id,
            },
        )
    return delivery_id


async def add_gdpr_request(
    resources: Resources,
    tenant: Tenant,
    *,
    request_type: str,
    created_at: datetime,
    status: str = "pending",
    shopify_customer_id: str | None = "7001",
    export: dict[str, Any] | None = None,
) -> str:
    request_id = new_id()
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await session.execute(
            text(
                """
                INSERT INTO gdpr_requests (merchant_id, id, request_type, status,
                    shopify_customer_id, export_encrypted, retention_expires_at, created_at)
                VALUES (:merchant_id, :id, :request_type, :status, :shopify_customer_id,
                    :export, :retention, :created_at)
                """
            ),
            {
                "merchant_id": tenant.merchant_id,
                "id": request_id,
                "request_type": request_type,
                "status": status,
                "shopify_customer_id": shopify_customer_id,
                "export": None
                if export is None
                else resources.cipher.encrypt(
                    orjson.dumps(export).decode(), context=GDPR_REQUESTS_EXPORT
                ),
                "retention": created_at + timedelta(days=30),
                "created_at": created_at,
            },
        )
    return request_id
