"""The export job on real Postgres: a data request is accepted pending, and the job builds its
export in pages of the configured size; a job stopping midway (raising, as a killed worker's
rolled-back transaction does) leaves the request pending with no export, and a rerun
completes it exactly once, with the same document whatever the page size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, insert, select

from db.ids import new_id
from db.models import AuditLog, GdprRequest, PointsTransaction
from db.session import tenant_unit_of_work
from subgraphs.admin.gdpr.export import ExportSpec, build_export
from subgraphs.admin.gdpr.export_runs import (
    MAX_ATTEMPTS,
    export_job_id,
    run_export,
    sweep_pending_exports,
)
from subgraphs.kit.jobs import job_queue
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant
from tests.subgraphs.admin.gdpr.people import Person, tell_story
from tests.subgraphs.admin.gdpr.runs import (
    data_request,
    process,
    read_export,
    receive,
    request_row,
)

LEDGER_ROWS = 2_400
PAGE = 100


class Crash(Exception):
    """What a worker dying midway looks like to the job's transaction."""


async def add_ledger_rows(resources: Resources, tenant: Tenant, customer_id: str) -> None:
    """Thousands of small adjustments, in one set-based insert."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "merchant_id": tenant.merchant_id,
            "id": new_id(),
            "customer_id": customer_id,
            "kind": "adjust",
            "points": 1,
            "reason": f"bulk {index}",
            "idempotency_key": f"bulk:{customer_id}:{index}",
            "created_at": start + timedelta(seconds=index),
        }
        for index in range(LEDGER_ROWS)
    ]
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await session.execute(insert(PointsTransaction), rows)


async def accept(resources: Resources, tenant: Tenant, person: Person) -> GdprRequest:
    payload = {
        "shop_id": 1,
        "shop_domain": tenant.shop_domain,
        "orders_requested": [],
        "customer": person.shopify_customer(),
    }
    delivery = await receive(
        resources, tenant, "customers/data_request", payload, person.shopify_id
    )
    accepted: GdprRequest = await process(resources, tenant, delivery, data_request(resources))
    return accepted


async def export_audits(resources: Resources, tenant: Tenant, request_id: str) -> list[Any]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return list(
            await session.scalars(
                select(AuditLog.metadata_).where(
                    AuditLog.merchant_id == tenant.merchant_id,
                    AuditLog.action == "gdpr_data_request",
                    AuditLog.metadata_["request_id"].astext == request_id,
                )
            )
        )


async def built(
    resources: Resources, tenant: Tenant, request_id: str, *, page_size: int
) -> dict[str, Any]:
    """The document the job would build now for a pending request (building writes nothing)."""
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        spec_token = await session.scalar(
            select(GdprRequest.export_spec_encrypted).where(
                GdprRequest.merchant_id == tenant.merchant_id, GdprRequest.id == request_id
            )
        )
        assert spec_token is not None
        export = await build_export(
            session,
            resources.cipher,
            tenant.merchant_id,
            request_id,
            ExportSpec.decrypted(resources.cipher, spec_token),
            now=datetime.now(UTC),
            page_size=page_size,
        )
    document: dict[str, Any] = orjson.loads(export.document)
    return document


def without_generated_at(export: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in export.items() if key != "generated_at"}


@pytest.fixture
async def large_customer(resources: Resources, tenant: Tenant) -> tuple[Person, str]:
    person = Person.new()
    story = await tell_story(resources, tenant, person)
    await add_ledger_rows(resources, tenant, story.customer_id)
    return person, story.customer_id


async def test_a_large_customer_is_exported_in_pages_by_the_job(
    resources: Resources, tenant: Tenant, large_customer: tuple[Person, str]
) -> None:
    person, customer_id = large_customer
    accepted = await accept(resources, tenant, person)
    assert (accepted.status, accepted.completed_at) == ("pending", None)
    assert await read_export(resources, tenant, accepted.id) is None
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        held = await session.scalar(
            select(func.count()).where(
                PointsTransaction.merchant_id == tenant.merchant_id,
                PointsTransaction.customer_id == customer_id,
            )
        )
    assert held is not None
    assert held > LEDGER_ROWS
    pages: list[int] = []

    async def count(page: int) -> None:
        pages.append(page)

    status = await run_export(
        resources, tenant.merchant_id, accepted.id, page_size=PAGE, on_page=count
    )

    assert status == "completed"
    completed = await request_row(resources, tenant, accepted.id)
    assert completed.status == "completed"
    assert completed.completed_at is not None
    assert completed.export_spec_encrypted is None
    export = await read_export(resources, tenant, accepted.id)
    (profile,) = export["customers"]
    assert len(profile["points_ledger"]) == held
    # The ledger took held // PAGE + 1 statements of at most PAGE rows (the last one short);
    # the customer's four other lists, the audit log and the deliveries one each.
    assert len(pages) == held // PAGE + 1 + 4 + 2
    (audit,) = await export_audits(resources, tenant, accepted.id)
    assert audit["pages"] == len(pages)
    assert audit["customer_ids"] == [customer_id]


async def test_a_job_stopping_midway_leaves_no_export_and_a_rerun_completes_it_once(
    resources: Resources, tenant: Tenant, large_customer: tuple[Person, str]
) -> None:
    person, _ = large_customer
    accepted = await accept(resources, tenant, person)

    async def crash_on_page_five(page: int) -> None:
        if page == 5:
            raise Crash

    with pytest.raises(Crash):
        await run_export(
            resources, tenant.merchant_id, accepted.id, page_size=PAGE, on_page=crash_on_page_five
        )

    stopped = await request_row(resources, tenant, accepted.id)
    assert (stopped.status, stopped.completed_at, stopped.export_encrypted) == (
        "pending",
        None,
        None,
    )
    assert stopped.attempts == 1
    assert await export_audits(resources, tenant, accepted.id) == []
    # The sweeper finds it (its lock is free) and enqueues the next attempt.
    queue = job_queue(resources.redis)
    assert await sweep_pending_exports(resources, queue) >= 1
    job_key = f"arq:job:{export_job_id(accepted.id, 1)}"
    assert await resources.redis.exists(job_key) == 1
    await resources.redis.zrem("arq:queue", export_job_id(accepted.id, 1))
    await resources.redis.delete(job_key)

    # Paging changes nothing: the same document as one statement per list (the former
    # synchronous builder's way), built from the pending request as the job would.
    paged = await built(resources, tenant, accepted.id, page_size=7)
    whole = await built(resources, tenant, accepted.id, page_size=1_000_000)
    assert without_generated_at(paged) == without_generated_at(whole)
    assert len(whole["customers"][0]["points_ledger"]) > LEDGER_ROWS

    assert await run_export(resources, tenant.merchant_id, accepted.id, page_size=PAGE) == (
        "completed"
    )
    assert await run_export(resources, tenant.merchant_id, accepted.id, page_size=PAGE) is None

    done = await request_row(resources, tenant, accepted.id)
    assert (done.status, done.attempts) == ("completed", 2)
    assert len(await export_audits(resources, tenant, accepted.id)) == 1
    stored = await read_export(resources, tenant, accepted.id)
    assert without_generated_at(stored) == without_generated_at(whole)


async def test_an_export_that_keeps_stopping_ends_failed(
    resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    await tell_story(resources, tenant, person)
    accepted = await accept(resources, tenant, person)

    async def crash(page: int) -> None:
        raise Crash

    for _ in range(MAX_ATTEMPTS):
        with pytest.raises(Crash):
            await run_export(resources, tenant.merchant_id, accepted.id, on_page=crash)

    assert await run_export(resources, tenant.merchant_id, accepted.id) == "failed"
    failed = await request_row(resources, tenant, accepted.id)
    assert (failed.status, failed.export_encrypted, failed.completed_at) == ("failed", None, None)
    assert failed.error is not None
    assert "stopped" in failed.error
