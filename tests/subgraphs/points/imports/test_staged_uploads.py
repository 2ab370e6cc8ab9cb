"""Uploading an import file the Shopify way, over real HTTP: stagedUploadCreate signs a URL
on the edge app, the file is PUT there, dataImportCreate(input: {upload}) imports it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest_asyncio
from sqlalchemy import func, select

from db.models import StagedUpload
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.imports.parsing import MAX_FILE_BYTES
from subgraphs.points.imports.queued import run_queued_import
from subgraphs.points.imports.repository import purge_expired_uploads
from subgraphs.points.imports.uploads import create_staged_upload
from tests.conftest import SubgraphClient, Tenant
from tests.gateway.webhooks.conftest import serve_edge
from tests.subgraphs.points.imports.helpers import balances, sample

STAGE = """
mutation($input: StagedUploadCreateInput!) {
  stagedUploadCreate(input: $input) {
    stagedTarget { upload url urlExpiresAt expiresAt }
    userErrors { field code message }
  }
}
"""
CREATE = """
mutation($input: DataImportCreateInput!) {
  dataImportCreate(input: $input) {
    dataImport { id status rowCount createCount pointsTotal }
    userErrors { field code message }
  }
}
"""
READ = "query($id: ID!) { dataImport(id: $id) { status } }"


@pytest_asyncio.fixture(loop_scope="session")
async def edge(resources: Resources) -> AsyncIterator[httpx.AsyncClient]:
    async for url in serve_edge(resources):
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield http


def _on_edge(url: str) -> str:
    """The signed URL's path and query (its origin is the public app URL; here, the test's
    edge app)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def _staged(
    client: SubgraphClient, tenant: Tenant, size: int, mime_type: str = "text/csv"
) -> dict[str, Any]:
    variables = {"input": {"filename": "smile.csv", "fileSize": str(size), "mimeType": mime_type}}
    result = await client.execute(STAGE, variables, tenant=tenant)
    payload: dict[str, Any] = result["data"]["stagedUploadCreate"]
    return payload


async def _uploads(resources: Resources, tenant: Tenant) -> int:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return int(await session.scalar(select(func.count()).select_from(StagedUpload)) or 0)


async def test_a_file_put_to_its_signed_url_is_previewed_then_imported(
    points_client: SubgraphClient, edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    content = sample("smile.csv")
    staged = await _staged(points_client, tenant, len(content))
    assert staged["userErrors"] == []
    target = staged["stagedTarget"]
    put = await edge.put(_on_edge(target["url"]), content=content)
    assert put.status_code == 200, put.text
    assert put.json()["upload"] == target["upload"]

    preview = await points_client.execute(
        CREATE, {"input": {"source": "SMILE", "upload": target["upload"]}}, tenant=tenant
    )
    previewed = preview["data"]["dataImportCreate"]["dataImport"]
    assert (previewed["status"], previewed["pointsTotal"]) == ("PREVIEWED", "1550")
    assert await balances(resources, tenant) == {}

    commit = {"source": "SMILE", "upload": target["upload"], "dryRun": False}
    created = await points_client.execute(CREATE, {"input": commit}, tenant=tenant)
    queued = created["data"]["dataImportCreate"]["dataImport"]
    assert queued["status"] == "QUEUED"
    assert await _uploads(resources, tenant) == 1  # the upload is the queued import's file
    await run_queued_import(resources, tenant.merchant_id, queued["id"].rsplit("/", 1)[-1])
    read = await points_client.execute(READ, {"id": queued["id"]}, tenant=tenant)
    assert read["data"]["dataImport"]["status"] == "COMMITTED"
    assert (await balances(resources, tenant))["jane@example.com"] == 1200
    # Imported, the file is deleted; its URL now finds nothing.
    assert await _uploads(resources, tenant) == 0
    again = await edge.put(_on_edge(target["url"]), content=content)
    assert again.status_code == 404


async def test_the_upload_url_refuses_forged_expired_and_oversized_puts(
    points_client: SubgraphClient, edge: httpx.AsyncClient, resources: Resources, tenant: Tenant
) -> None:
    staged = (await _staged(points_client, tenant, 100))["stagedTarget"]
    path = _on_edge(staged["url"])
    forged = path.replace("signature=", "signature=0")
    assert (await edge.put(forged, content=b"email\n")).status_code == 401
    other_upload = path.replace(staged["upload"].rsplit("/", 1)[-1], "0" * 8)
    assert (await edge.put(other_upload, content=b"email\n")).status_code == 401
    assert (await edge.put(path.split("?")[0], content=b"email\n")).status_code == 401
    # Larger than the upload was made for, or than any import file may be.
    assert (await edge.put(path, content=b"e" * 101)).status_code == 413
    assert (await edge.put(path, content=b"e" * (MAX_FILE_BYTES + 1))).status_code == 413
    assert (await edge.put(path, content=b"\xff\xfe")).status_code == 400

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        old = await create_staged_upload(
            WriteContext(session, tenant.merchant_id, now=an_hour_ago),
            app_url="http://edge",
            secret=resources.settings.token_secret,
            file_name="old.csv",
            file_size=10,
            mime_type="text/csv",
        )
    assert (await edge.put(_on_edge(old.url), content=b"email\n")).status_code == 403


async def test_bad_uploads_are_user_errors(
    points_client: SubgraphClient,
    edge: httpx.AsyncClient,
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
) -> None:
    too_large = await _staged(points_client, tenant, MAX_FILE_BYTES + 1)
    assert [(e["code"], e["field"]) for e in too_large["userErrors"]] == [
        ("IMPORT_FILE_TOO_LARGE", ["input", "fileSize"])
    ]
    not_csv = await _staged(points_client, tenant, 10, mime_type="image/png")
    assert [e["code"] for e in not_csv["userErrors"]] == ["INVALID_IMPORT_FILE"]

    never_put = (await _staged(points_client, tenant, 10))["stagedTarget"]["upload"]
    theirs = (await _staged(points_client, other_tenant, 10))["stagedTarget"]
    assert (await edge.put(_on_edge(theirs["url"]), content=b"email\n")).status_code == 200
    for upload in (never_put, theirs["upload"]):
        result = await points_client.execute(
            CREATE, {"input": {"source": "SMILE", "upload": upload}}, tenant=tenant
        )
        payload = result["data"]["dataImportCreate"]
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("IMPORT_UPLOAD_NOT_FOUND", ["input", "upload"])
        ]
    both = {"source": "SMILE", "upload": never_put, "fileContent": "email\na@b.co\n"}
    result = await points_client.execute(CREATE, {"input": both}, tenant=tenant)
    assert [e["code"] for e in result["data"]["dataImportCreate"]["userErrors"]] == [
        "INVALID_IMPORT_FILE"
    ]


async def test_the_retention_job_deletes_uploads_after_a_day(
    points_client: SubgraphClient, resources: Resources, tenant: Tenant
) -> None:
    await _staged(points_client, tenant, 10)
    async with system_unit_of_work(resources.sessions) as session:
        await purge_expired_uploads(session, datetime.now(UTC))
    assert await _uploads(resources, tenant) == 1
    async with system_unit_of_work(resources.sessions) as session:
        await purge_expired_uploads(session, datetime.now(UTC) + timedelta(days=1, minutes=1))
    assert await _uploads(resources, tenant) == 0
