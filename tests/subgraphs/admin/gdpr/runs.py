"""How the worker runs a GDPR delivery (claimed from the inbox, handled, marked done in one
transaction), and reads of what it left behind, for the GDPR tests."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.encryption_contexts import API_LOGS_PAYLOAD
from db.ids import new_id
from db.models import ApiLog, Customer, GdprProfileDeletion, GdprRequest, PointsTransaction
from db.session import tenant_unit_of_work
from subgraphs.admin.deliveries.repository import NewDelivery, WebhookDeliveriesRepository
from subgraphs.admin.gdpr import export, redaction
from subgraphs.admin.gdpr.export_runs import run_export
from subgraphs.admin.gdpr.service import GdprDelivery
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant
from worker.gdpr.profile_deletions import run_profile_deletion

Handler = Callable[[AsyncSession, str, dict[str, Any], str, datetime], Awaitable[Any]]


# --- the worker's way of running a delivery -------------------------------------------------


async def receive(
    resources: Resources,
    tenant: Tenant,
    topic: str,
    payload: Mapping[str, Any],
    shopify_customer_id: str | None,
) -> str:
    """What the shim does: the encrypted payload lands in the inbox."""
    body = json.dumps(payload)
    delivery = NewDelivery(
        id=new_id(),
        topic=topic,
        webhook_id=new_id(),
        event_id=None,
        triggered_at=None,
        api_version="2025-10",
        payload_encrypted=resources.cipher.encrypt(body, context=API_LOGS_PAYLOAD),
        payload_bytes=len(body),
        shopify_customer_id=shopify_customer_id,
    )
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        assert await WebhookDeliveriesRepository(session, tenant.merchant_id).insert_delivery(
            delivery
        )
    return delivery.id


async def process(resources: Resources, tenant: Tenant, delivery_id: str, handler: Handler) -> Any:
    """What the worker does: claim, decrypt, handle and mark done in one transaction."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        deliveries = WebhookDeliveriesRepository(session, tenant.merchant_id)
        row = await deliveries.claim_pending(delivery_id)
        assert row is not None
        assert row.payload_encrypted is not None
        payload = json.loads(
            resources.cipher.decrypt(row.payload_encrypted, context=API_LOGS_PAYLOAD)
        )
        result = await handler(session, tenant.merchant_id, payload, delivery_id, datetime.now(UTC))
        await deliveries.mark_done(row, duration_ms=1)
    return result


async def run_gdpr_jobs(resources: Resources, merchant_id: str) -> None:
    """What the worker's GDPR jobs do once enqueued after a commit: build the pending exports,
    then ask for the pending provider profile deletions."""
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        exports = list(
            await session.scalars(
                select(GdprRequest.id).where(
                    GdprRequest.merchant_id == merchant_id, GdprRequest.status == "pending"
                )
            )
        )
        deletions = list(
            await session.scalars(
                select(GdprProfileDeletion.id).where(
                    GdprProfileDeletion.merchant_id == merchant_id,
                    GdprProfileDeletion.status.in_(["pending", "sending"]),
                )
            )
        )
    for request_id in exports:
        await run_export(resources, merchant_id, request_id)
    async with httpx.AsyncClient() as http:
        for deletion_id in deletions:
            await run_profile_deletion(resources, http, merchant_id, deletion_id)


async def request_row(resources: Resources, tenant: Tenant, request_id: str) -> GdprRequest:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        result = await session.scalars(
            select(GdprRequest).where(
                GdprRequest.merchant_id == tenant.merchant_id, GdprRequest.id == request_id
            )
        )
        return result.one()


def gdpr_handler(
    resources: Resources, handle: Callable[[GdprDelivery, dict[str, Any]], Awaitable[Any]]
) -> Handler:
    async def run(
        session: AsyncSession,
        merchant_id: str,
        payload: dict[str, Any],
        delivery: str,
        now: datetime,
    ) -> Any:
        return await handle(
            GdprDelivery(session, resources.cipher, merchant_id, delivery, now), payload
        )

    return run


def data_request(resources: Resources) -> Handler:
    return gdpr_handler(resources, export.handle_customer_data_request)


def customer_redact(resources: Resources) -> Handler:
    return gdpr_handler(resources, redaction.handle_customer_redact)


def shop_redact(resources: Resources) -> Handler:
    return gdpr_handler(resources, redaction.handle_shop_redact)


# --- reads -----------------------------------------------------------------------------------


async def ledger_rows(
    resources: Resources, tenant: Tenant, customer_id: str
) -> list[tuple[str, str, int, datetime, str | None]]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.execute(
            select(
                PointsTransaction.id,
                PointsTransaction.kind,
                PointsTransaction.points,
                PointsTransaction.created_at,
                PointsTransaction.order_id,
            )
            .where(
                PointsTransaction.merchant_id == tenant.merchant_id,
                PointsTransaction.customer_id == customer_id,
            )
            .order_by(PointsTransaction.created_at, PointsTransaction.id)
        )
        return [(r.id, r.kind, r.points, r.created_at, r.order_id) for r in rows]


async def customer_row(resources: Resources, tenant: Tenant, customer_id: str) -> Customer:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        result = await session.scalars(
            select(Customer).where(
                Customer.merchant_id == tenant.merchant_id, Customer.id == customer_id
            )
        )
        return result.one()


async def everything_of(resources: Resources, tenant: Tenant, customer_id: str) -> list[Any]:
    """A customer's rows in full, for "untouched" comparisons."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        customer = (
            await session.execute(
                select(Customer.__table__).where(
                    Customer.merchant_id == tenant.merchant_id, Customer.id == customer_id
                )
            )
        ).all()
        entries = (
            await session.execute(
                select(PointsTransaction.__table__)
                .where(
                    PointsTransaction.merchant_id == tenant.merchant_id,
                    PointsTransaction.customer_id == customer_id,
                )
                .order_by(PointsTransaction.id)
            )
        ).all()
    return [list(customer), list(entries)]


async def deliveries(resources: Resources, tenant: Tenant) -> dict[str, ApiLog]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalars(select(ApiLog).where(ApiLog.merchant_id == tenant.merchant_id))
        return {row.id: row for row in rows}


async def requests(resources: Resources, tenant: Tenant) -> dict[str, GdprRequest]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalars(
            select(GdprRequest).where(GdprRequest.merchant_id == tenant.merchant_id)
        )
        return {row.id: row for row in rows}


async def read_export(resources: Resources, tenant: Tenant, request_id: str) -> Any:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await export.read_export(session, resources.cipher, tenant.merchant_id, request_id)


def places(hits: list[Any]) -> set[tuple[str, str]]:
    return {(hit.table, hit.column) for hit in hits}
