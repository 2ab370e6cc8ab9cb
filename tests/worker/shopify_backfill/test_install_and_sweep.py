"""Installing LoyalNest queues the shop's backfill and hands it to the worker; a reinstall
after a completed run keeps it, one after an uninstall cut it short runs it again; the
sweeper queues again a run whose job was lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import respx
from arq.jobs import Job, JobStatus
from sqlalchemy import update

from db.models import BackfillStatus, ShopifyBackfill
from db.session import system_unit_of_work
from subgraphs.admin.backfill import service as backfills
from subgraphs.kit.jobs import job_queue
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, new_tenant
from tests.gateway.auth.test_oauth import (
    callback_params,
    merchant_row,
    new_shop,
    start_install,
    token_endpoint,
)
from tests.worker.shopify_backfill.shopify_bulk import drop_queued_job
from worker.settings import discover_jobs
from worker.shopify_backfill.jobs import STALE_AFTER, requeue_stale_backfills


async def _install(auth_http: httpx.AsyncClient, shopify: respx.MockRouter, shop: str) -> str:
    token_endpoint(shopify, shop)
    state = await start_install(auth_http, shop)
    response = await auth_http.get("/auth/callback", params=callback_params(shop, state))
    assert response.status_code == 302, response.text
    merchant = await merchant_row(_resources_of(auth_http), shop)
    assert merchant is not None
    return merchant.id


def _resources_of(auth_http: httpx.AsyncClient) -> Resources:
    transport = auth_http._transport
    assert isinstance(transport, httpx.ASGITransport)
    resources: Resources = transport.app.state.resources  # type: ignore[attr-defined]
    return resources


async def _run_of(resources: Resources, merchant_id: str) -> ShopifyBackfill:
    async with system_unit_of_work(resources.sessions) as session:
        run = await session.get(ShopifyBackfill, merchant_id)
    assert run is not None
    return run


async def _set(resources: Resources, merchant_id: str, **values: object) -> None:
    async with system_unit_of_work(resources.sessions) as session:
        await session.execute(
            update(ShopifyBackfill)
            .where(ShopifyBackfill.merchant_id == merchant_id)
            .values(**values)
        )


async def test_installing_queues_the_backfill_and_hands_it_to_the_worker(
    auth_http: httpx.AsyncClient, resources: Resources, shopify: respx.MockRouter
) -> None:
    shop = new_shop()
    merchant_id = await _install(auth_http, shopify, shop)
    run = await _run_of(resources, merchant_id)
    assert (run.status, run.run) == (BackfillStatus.QUEUED, 1)
    job = Job(backfills.backfill_job_id(merchant_id), job_queue(resources.redis))
    assert await job.status() is JobStatus.queued
    await drop_queued_job(resources, merchant_id)


async def test_a_reinstall_keeps_a_completed_run_and_reruns_one_cut_short(
    resources: Resources, tenant: Tenant
) -> None:
    async def at_install() -> ShopifyBackfill | None:
        async with system_unit_of_work(resources.sessions) as session:
            return await backfills.queue_at_install(
                session, tenant.merchant_id, now=datetime.now(UTC)
            )

    assert await at_install() is not None
    assert await at_install() is None  # under way: left alone
    await _set(resources, tenant.merchant_id, status="completed")
    assert await at_install() is None
    assert (await _run_of(resources, tenant.merchant_id)).run == 1
    await _set(resources, tenant.merchant_id, status="stopped")
    again = await at_install()
    assert again is not None
    assert (again.status, again.run) == (BackfillStatus.QUEUED, 2)


async def test_the_sweeper_queues_again_only_runs_whose_job_went_quiet(
    resources: Resources,
) -> None:
    quiet, busy, done = [(await new_tenant(resources)).merchant_id for _ in range(3)]
    for merchant_id in (quiet, busy, done):
        async with system_unit_of_work(resources.sessions) as session:
            await backfills.queue_at_install(session, merchant_id, now=datetime.now(UTC))
    long_ago = datetime.now(UTC) - STALE_AFTER - timedelta(minutes=1)
    await _set(resources, quiet, status="running", updated_at=long_ago)
    await _set(resources, done, status="completed", updated_at=long_ago)
    await _set(resources, busy, status="running")
    queued: list[str] = []

    async def enqueue(merchant_id: str) -> bool:
        queued.append(merchant_id)
        return True

    await requeue_stale_backfills(resources.sessions, now=datetime.now(UTC), enqueue=enqueue)
    assert quiet in queued
    assert busy not in queued
    assert done not in queued


def test_the_worker_registers_the_job_the_services_enqueue() -> None:
    names = {spec.name for spec in discover_jobs()}
    assert backfills.RUN_SHOPIFY_BACKFILL in names
    assert "requeue_stale_shopify_backfills_job" in names
