"""What the backfill tests share: a job of the backfill over a respx-mocked Shopify, and reads of
what it wrote."""

from __future__ import annotations

from typing import Any

import httpx
from purgatory import AsyncCircuitBreakerFactory
from sqlalchemy import select

from db.models import Customer, OrderFact, ShopifyBackfill
from db.session import tenant_unit_of_work
from subgraphs.admin.backfill import service as backfills
from subgraphs.kit.resources import Resources
from subgraphs.points.shopify import ShopifyConnector
from tests.conftest import Tenant
from worker.shopify_backfill.jobs import BackfillJob, connector_client_for

ACCESS_TOKEN = "shpat_backfill_test"


async def no_wait(_seconds: float) -> None:
    return None


def backfill_job(
    resources: Resources, tenant: Tenant, http: httpx.AsyncClient, **options: Any
) -> BackfillJob:
    connector = ShopifyConnector(
        breakers=AsyncCircuitBreakerFactory(),
        http=http,
        redis=resources.redis,
        sleep=no_wait,
        base_delay=0.01,
    )
    return BackfillJob(
        resources.sessions,
        resources.cipher,
        tenant.merchant_id,
        http,
        connector_client_for(connector, tenant.merchant_id, resources.cipher),
        sleep=options.pop("sleep", no_wait),
        **options,
    )


async def backfill_state(resources: Resources, tenant: Tenant) -> ShopifyBackfill:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        state = await backfills.backfill_of(session, tenant.merchant_id)
    assert state is not None
    return state


async def customers_by_shopify_id(
    resources: Resources, tenant: Tenant
) -> dict[str | None, Customer]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalars(select(Customer))
        return {row.shopify_customer_id: row for row in rows}


async def order_facts_by_shopify_id(resources: Resources, tenant: Tenant) -> dict[str, OrderFact]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalars(select(OrderFact))
        return {row.shopify_order_id: row for row in rows}
