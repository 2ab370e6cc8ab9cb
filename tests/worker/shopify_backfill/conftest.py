"""The auth routes and the Shopify mock of the OAuth tests, for the install that queues the
backfill; a shop installed with its backfill queued, and the client of the downloads."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest_asyncio

from db.session import system_unit_of_work
from subgraphs.admin.backfill import service as backfills
from subgraphs.admin.merchants.repository import MerchantsRepository
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant
from tests.gateway.auth.conftest import auth_http, shopify
from tests.worker.shopify_backfill.runs import ACCESS_TOKEN

__all__ = ["auth_http", "shopify"]


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
