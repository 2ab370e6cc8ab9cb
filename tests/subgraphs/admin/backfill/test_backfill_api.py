"""The merchant follows the Shopify backfill (``shopifyBackfill``) and runs it again
(``shopifyBackfillStart``): refused while a run is under way or without Admin API access, a
new run from the first step otherwise, queued for the worker once committed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arq.jobs import Job, JobStatus
from sqlalchemy import update

from db.encryption_contexts import MERCHANTS_API_TOKEN
from db.models import ShopifyBackfill
from db.session import system_unit_of_work
from subgraphs.admin.backfill import service as backfills
from subgraphs.admin.merchants.repository import MerchantsRepository
from subgraphs.kit.jobs import job_queue
from subgraphs.kit.resources import Resources
from tests.conftest import SubgraphClient, Tenant
from tests.worker.shopify_backfill.shopify_bulk import drop_queued_job

PROGRESS = """
query { shopifyBackfill {
  status step customersImported ordersImported ordersSince startedAt finishedAt error
} }"""
START = """
mutation Start($input: ShopifyBackfillStartInput!) {
  shopifyBackfillStart(input: $input) {
    shopifyBackfill { status step customersImported ordersImported }
    userErrors { field message code }
  }
}"""


async def _connect(resources: Resources, tenant: Tenant) -> None:
    async with system_unit_of_work(resources.sessions) as session:
        await MerchantsRepository(session).store_access_token(
            tenant.merchant_id, resources.cipher.encrypt("shpat_x", context=MERCHANTS_API_TOKEN)
        )


async def _start(admin_client: SubgraphClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = await admin_client.execute(START, {"input": fields}, tenant=tenant)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["shopifyBackfillStart"]
    return payload


async def _finish(resources: Resources, tenant: Tenant, **values: Any) -> None:
    async with system_unit_of_work(resources.sessions) as session:
        await session.execute(
            update(ShopifyBackfill)
            .where(ShopifyBackfill.merchant_id == tenant.merchant_id)
            .values(finished_at=datetime.now(UTC), **values)
        )


async def test_progress_is_null_before_any_run_and_shows_the_run_once_queued(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    assert (await admin_client.execute(PROGRESS, tenant=tenant))["data"] == {
        "shopifyBackfill": None
    }
    async with system_unit_of_work(resources.sessions) as session:
        await backfills.queue_at_install(session, tenant.merchant_id, now=datetime.now(UTC))
    progress = (await admin_client.execute(PROGRESS, tenant=tenant))["data"]["shopifyBackfill"]
    assert progress["status"] == "QUEUED"
    assert progress["step"] == "CUSTOMERS"
    assert (progress["customersImported"], progress["ordersImported"]) == ("0", "0")
    assert progress["finishedAt"] is None
    ordered_since = datetime.fromisoformat(progress["ordersSince"])
    started = datetime.fromisoformat(progress["startedAt"])
    assert (started - ordered_since).days == 730
    # Another shop sees its own (none), never this one's.
    other = await admin_client.execute(PROGRESS, tenant=other_tenant)
    assert other["data"] == {"shopifyBackfill": None}


async def test_a_merchant_runs_a_finished_backfill_again_from_the_start(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await _connect(resources, tenant)
    first = await _start(admin_client, tenant)
    assert first["userErrors"] == []
    # Under way: a second request is refused, and nothing changes.
    refused = await _start(admin_client, tenant, reason="again")
    assert refused == {
        "shopifyBackfill": None,
        "userErrors": [
            {
                "field": None,
                "message": "a backfill is under way; run it again once it has finished",
                "code": "ALREADY_RUNNING",
            }
        ],
    }
    await _finish(
        resources, tenant, status="failed", error="boom", customers_imported=3, step="orders"
    )
    again = await _start(admin_client, tenant, reason="the first one failed")
    assert again == {
        "shopifyBackfill": {
            "status": "QUEUED",
            "step": "CUSTOMERS",
            "customersImported": "0",
            "ordersImported": "0",
        },
        "userErrors": [],
    }
    async with system_unit_of_work(resources.sessions) as session:
        run = await session.get(ShopifyBackfill, tenant.merchant_id)
        assert run is not None
        assert (run.run, run.error, run.finished_at) == (2, None, None)
    # Committed, then handed to the worker under the shop's one job id.
    job = Job(backfills.backfill_job_id(tenant.merchant_id), job_queue(resources.redis))
    assert await job.status() is JobStatus.queued
    await drop_queued_job(resources, tenant.merchant_id)


async def test_a_shop_without_admin_api_access_cannot_run_it(
    admin_client: SubgraphClient, tenant: Tenant
) -> None:
    payload = await _start(admin_client, tenant)
    assert payload["shopifyBackfill"] is None
    assert [error["code"] for error in payload["userErrors"]] == ["SHOP_NOT_CONNECTED"]
    body = await admin_client.execute(PROGRESS, tenant=tenant)
    assert body["data"] == {"shopifyBackfill": None}


async def test_a_reason_longer_than_500_characters_is_refused_at_its_field(
    admin_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await _connect(resources, tenant)
    payload = await _start(admin_client, tenant, reason="x" * 501)
    assert payload["userErrors"] == [
        {
            "field": ["input", "reason"],
            "message": "a reason has at most 500 characters",
            "code": "REASON_TOO_LONG",
        }
    ]
    body = await admin_client.execute(PROGRESS, tenant=tenant)
    assert body["data"] == {"shopifyBackfill": None}
