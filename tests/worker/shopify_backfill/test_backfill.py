"""The Shopify backfill at install, from a recorded bulk export served through respx: the
shop's customers are enrolled (encrypted and blind-indexed like any other) and two years of
orders become order facts, then RFM gives every customer with orders a segment. A run broken
off midway continues where it stopped without writing a line twice; throttled calls are
waited out; an uninstalled shop's run stops; the merchant sees it all and can run it again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from purgatory import AsyncCircuitBreakerFactory
from sqlalchemy import func, select

from db.encryption_contexts import CUSTOMERS_EMAIL
from db.models import BackfillStatus, BackfillStep, Customer, OrderFact, ShopifyBackfill
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.admin.backfill import service as backfills
from subgraphs.admin.merchants.repository import MerchantsRepository
from subgraphs.admin.merchants.service import record_uninstall
from subgraphs.kit.integrations.shopify_admin import ShopifyUnavailableError
from subgraphs.kit.resources import Resources
from subgraphs.points.customers.service import email_index
from subgraphs.points.shopify import ShopifyConnector
from tests.conftest import Tenant, add_customer
from tests.worker.shopify_backfill.shopify_bulk import ShopifyBulk, mocked_shopify
from worker.shopify_backfill.jobs import BackfillJob, connector_client_for

ACCESS_TOKEN = "shpat_backfill_test"


async def _no_wait(_seconds: float) -> None:
    return None


@pytest_asyncio.fixture(loop_scope="session")
async def download_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest_asyncio.fixture(loop_scope="session")
async def installed(resources: Resources, tenant: Tenant) -> Tenant:
    """A shop installed through OAuth (it has an Admin API token), its backfill queued."""
    now = datetime.now(UTC)
    async with system_unit_of_work(resources.sessions) as session:
        await MerchantsRepository(session).store_access_token(
            tenant.merchant_id,
            resources.cipher.encrypt(ACCESS_TOKEN, context="merchants.api_token"),
        )
        assert await backfills.queue_at_install(session, tenant.merchant_id, now=now)
    return tenant


def _job(
    resources: Resources, tenant: Tenant, http: httpx.AsyncClient, **options: Any
) -> BackfillJob:
    connector = ShopifyConnector(
        breakers=AsyncCircuitBreakerFactory(),
        http=http,
        redis=resources.redis,
        sleep=_no_wait,
        base_delay=0.01,
    )
    return BackfillJob(
        resources.sessions,
        resources.cipher,
        tenant.merchant_id,
        http,
        connector_client_for(connector, tenant.merchant_id, resources.cipher),
        sleep=options.pop("sleep", _no_wait),
        **options,
    )


async def _state(resources: Resources, tenant: Tenant) -> ShopifyBackfill:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        state = await backfills.backfill_of(session, tenant.merchant_id)
    assert state is not None
    return state


async def _customers(resources: Resources, tenant: Tenant) -> dict[str | None, Customer]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalars(select(Customer))
        return {row.shopify_customer_id: row for row in rows}


async def _orders(resources: Resources, tenant: Tenant) -> dict[str, OrderFact]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        rows = await session.scalars(select(OrderFact))
        return {row.shopify_order_id: row for row in rows}


async def test_the_backfill_fills_customers_and_orders_and_rfm_segments_them(
    resources: Resources, installed: Tenant, download_http: httpx.AsyncClient
) -> None:
    # Dan bought as a guest before: known by email only, his account is linked, not doubled.
    guest_dan = await add_customer(resources, installed, email="dan.dyer@example.com")
    with mocked_shopify(installed.shop_domain) as shopify:
        status = await _job(resources, installed, download_http).run()
    assert status is BackfillStatus.COMPLETED
    assert shopify.started == ["customers", "orders"]

    customers = await _customers(resources, installed)
    # 1003 has a phone and no email: nothing to enrol them by.
    assert set(customers) == {"1001", "1002", "1004", "1005"}
    assert customers["1004"].id == guest_dan
    ann = customers["1001"]
    assert "ann" not in ann.email_encrypted.lower()
    assert (
        resources.cipher.decrypt(ann.email_encrypted, context=CUSTOMERS_EMAIL)
        == "ann.archer@example.com"
    )
    assert ann.email_blind_index == email_index("ann.archer@example.com", resources.cipher)
    assert (ann.country_code, customers["1002"].locale, customers["1005"].locale) == (
        "US",
        "fr",
        "he",
    )
    # No signup points for customers who signed up before the program.
    assert all(customer.points_balance == 0 for customer in customers.values())

    orders = await _orders(resources, installed)
    assert len(orders) == 15
    guest = [fact for fact in orders.values() if fact.customer_id is None]
    assert len(guest) == 1
    euro = orders["5012"]
    assert (euro.customer_id, euro.channel, euro.region) == (guest_dan, "pos", "ES")
    assert (euro.total, euro.presentment_currency, euro.presentment_total) == (
        Decimal("65.00"),
        "EUR",
        Decimal("58.50"),
    )
    assert orders["5007"].discount_codes == ["LOYAL-10"]
    assert orders["5009"].cancelled_at is not None
    assert orders["5014"].paid_at is None  # Eve's order is still pending

    assert {shopify_id: row.rfm_segment for shopify_id, row in customers.items()} == {
        "1001": "Champions",
        "1002": "Inactive",
        "1004": "At-Risk",
        "1005": "New",
    }
    state = await _state(resources, installed)
    assert (state.status, state.step) == (BackfillStatus.COMPLETED, BackfillStep.SCORING)
    assert (state.customers_imported, state.orders_imported) == (4, 15)
    assert state.finished_at is not None and state.error is None
