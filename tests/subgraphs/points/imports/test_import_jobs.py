"""Commits the worker applies: dataImportCreate(dryRun: false) queues, the job commits once
(or fails with nothing applied), progress shows as a field and a subscription, and the
sweeper re-enqueues what a lost job left."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from arq.jobs import Job, JobStatus
from sqlalchemy import func, select
from websockets.asyncio.client import connect

from db.models import DataImportSource, DataImportStatus, StagedUpload
from db.session import tenant_unit_of_work
from subgraphs.kit.jobs import job_queue
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.imports.queued import (
    commit_job_id,
    queue_import,
    run_queued_import,
    sweep_unfinished_imports,
)
from subgraphs.points.imports.repository import DataImportRepository
from subgraphs.points.imports.service import ImportRequest
from tests.conftest import SubgraphClient, Tenant, served_subgraph
from tests.subgraphs.points.imports.helpers import (
    assert_invariants,
    balances,
    ledger_totals,
    run,
    sample,
)

CREATE = """
mutation($input: DataImportCreateInput!) {
  dataImportCreate(input: $input) {
    replayed
    dataImport { id status rowsDone rowsTotal attempts failureReason pointsTotal }
    userErrors { field code message }
  }
}
"""
READ = """
query($id: ID!) {
  dataImport(id: $id) { id status rowsDone rowsTotal attempts failureReason committedAt }
}
"""
PROGRESS = "subscription($id: ID!) { dataImportProgress(id: $id) { status rowsDone rowsTotal } }"
CUSTOM_WITH_SHOPIFY_ID = [
    {"column": "email", "field": "EMAIL"},
    {"column": "points", "field": "POINTS"},
    {"column": "shopify_id", "field": "SHOPIFY_CUSTOMER_ID"},
]


def _local(global_id: str) -> str:
    return global_id.rsplit("/", 1)[-1]


async def _staged_uploads(resources: Resources, tenant: Tenant) -> int:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return int(await session.scalar(select(func.count()).select_from(StagedUpload)) or 0)


async def _queued(
    resources: Resources,
    tenant: Tenant,
    content: bytes,
    source: DataImportSource = DataImportSource.SMILE,
) -> str:
    """A commit queued through the service, with no job enqueued (as if Redis lost it)."""
    request = ImportRequest(source=source, content=content, dry_run=False)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        outcome = await queue_import(
            WriteContext(session, tenant.merchant_id), resources.cipher, request
        )
    return outcome.data_import.id


async def test_a_commit_is_queued_then_applied_once_by_its_job(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    source = {"source": "SMILE", "fileContent": sample("smile.csv").decode(), "dryRun": False}
    created = await points_client.execute(CREATE, {"input": source}, tenant=tenant)
    payload = created["data"]["dataImportCreate"]
    queued = payload["dataImport"]
    assert payload["userErrors"] == []
    assert (queued["status"], queued["rowsDone"], queued["attempts"]) == ("QUEUED", 0, 0)
    assert queued["rowsTotal"] > 0
    # Queued is not applied: no customer yet, and the file waits in staged_uploads.
    assert await balances(resources, tenant) == {}
    assert await _staged_uploads(resources, tenant) == 1
    import_id = _local(queued["id"])
    job = Job(commit_job_id(import_id, 0), job_queue(resources.redis))
    assert await job.status() == JobStatus.queued

    assert await run_queued_import(resources, tenant.merchant_id, import_id) == (
        DataImportStatus.COMMITTED
    )
    read = await points_client.execute(READ, {"id": queued["id"]}, tenant=tenant)
    committed = read["data"]["dataImport"]
    assert committed["status"] == "COMMITTED"
    assert committed["rowsDone"] == committed["rowsTotal"] == queued["rowsTotal"]
    assert committed["attempts"] == 1
    assert (await balances(resources, tenant))["jane@example.com"] == 1200
    assert await _staged_uploads(resources, tenant) == 0
    applied = await ledger_totals(resources, tenant)

    # A second job for it (a sweep, a duplicate) changes nothing; so does sending it again.
    assert await run_queued_import(resources, tenant.merchant_id, import_id) == (
        DataImportStatus.COMMITTED
    )
    again = await points_client.execute(CREATE, {"input": source}, tenant=tenant)
    assert again["data"]["dataImportCreate"]["replayed"] is True
    assert again["data"]["dataImportCreate"]["dataImport"]["status"] == "COMMITTED"
    assert await ledger_totals(resources, tenant) == applied
    await assert_invariants(resources, tenant)


async def test_a_file_the_shop_no_longer_accepts_fails_with_nothing_applied(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    source = {
        "source": "CUSTOM",
        "fileContent": "email,points,shopify_id\nnew@example.com,50,777\nother@example.com,5,\n",
        "mapping": CUSTOM_WITH_SHOPIFY_ID,
        "dryRun": False,
    }
    created = await points_client.execute(CREATE, {"input": source}, tenant=tenant)
    queued = created["data"]["dataImportCreate"]["dataImport"]
    assert queued["status"] == "QUEUED"
    # Before the worker gets to it, another customer takes Shopify id 777.
    await run(
        resources,
        tenant,
        DataImportSource.CUSTOM,
        b"email,shopify_id\nholder@example.com,777\n",
        mapping={"email": "email", "shopify_id": "shopify_customer_id"},
        dry_run=False,
    )
    before = await ledger_totals(resources, tenant)

    status = await run_queued_import(resources, tenant.merchant_id, _local(queued["id"]))
    assert status == DataImportStatus.FAILED
    read = await points_client.execute(READ, {"id": queued["id"]}, tenant=tenant)
    failed = read["data"]["dataImport"]
    assert failed["status"] == "FAILED"
    assert "row 2, shopify_id" in failed["failureReason"]
    assert failed["committedAt"] is None
    # Neither row applied, not even the valid one: all rows or none.
    assert set(await balances(resources, tenant)) == {"holder@example.com"}
    assert await ledger_totals(resources, tenant) == before


async def test_the_sweeper_enqueues_lost_jobs_and_leaves_held_imports_alone(
    resources: Resources, tenant: Tenant
) -> None:
    queue = job_queue(resources.redis)
    lost = await _queued(resources, tenant, sample("smile.csv"))
    held = await _queued(resources, tenant, sample("loyaltylion.csv"), DataImportSource.LOYALTYLION)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        # A live worker's transaction holds the lock of the import it applies.
        assert await DataImportRepository(session, tenant.merchant_id).try_lock(held)
        await sweep_unfinished_imports(resources, queue)
    assert await Job(commit_job_id(lost, 0), queue).status() == JobStatus.queued
    assert await Job(commit_job_id(held, 0), queue).status() == JobStatus.not_found
    # Released, the held import is enqueued; the lost one's job is on the queue already, and
    # so are any other shop's the first sweep found: none gets a second job.
    assert await sweep_unfinished_imports(resources, queue) == 1
    assert await Job(commit_job_id(held, 0), queue).status() == JobStatus.queued


@pytest_asyncio.fixture(loop_scope="session")
async def points_url(resources: Resources) -> AsyncIterator[str]:
    async with served_subgraph("points", resources) as url:
        yield url


async def _next(socket: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
    return message


async def test_progress_is_pushed_until_the_import_is_committed(
    points_url: str, resources: Resources, tenant: Tenant
) -> None:
    import_id = await _queued(resources, tenant, sample("smile.csv"))
    async with connect(points_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
        await socket.send(json.dumps(init))
        assert (await _next(socket))["type"] == "connection_ack"
        variables = {"id": f"gid://loyalnest/DataImport/{import_id}"}
        subscribe = {"query": PROGRESS, "variables": variables}
        await socket.send(json.dumps({"id": "p", "type": "subscribe", "payload": subscribe}))
        first = await _next(socket)
        assert first["payload"]["data"]["dataImportProgress"]["status"] == "QUEUED"

        await run_queued_import(resources, tenant.merchant_id, import_id)
        seen = []
        while (message := await _next(socket))["type"] == "next":
            seen.append(message["payload"]["data"]["dataImportProgress"])
        assert message == {"id": "p", "type": "complete"}
    total = seen[-1]["rowsTotal"]
    assert seen[-1] == {"status": "COMMITTED", "rowsDone": total, "rowsTotal": total}
    # Each push is the row as committed when it was read: never backwards.
    order = ["QUEUED", "RUNNING", "COMMITTED"]
    statuses = [order.index(step["status"]) for step in seen]
    assert statuses == sorted(statuses)
    done = [step["rowsDone"] for step in seen]
    assert done == sorted(done)
