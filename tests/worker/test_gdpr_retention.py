"""GDPR retention: the daily job deletes requests and their exports past 90 days, keeps the
younger ones, and is registered with the worker on its schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from db.models import AuditLog, GdprProfileDeletion, GdprRequest
from db.session import tenant_unit_of_work
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant
from tests.subgraphs.admin.gdpr.people import Person, redact, request_data, tell_story
from tests.subgraphs.admin.gdpr.runs import read_export
from tests.worker.test_job_discovery import WORKER_ENV
from worker.gdpr.jobs import purge_gdpr_records, run_gdpr_retention
from worker.settings import worker_settings


async def aged(resources: Resources, tenant: Tenant, request_id: str, days: int) -> None:
    """The request as if received ``days`` ago."""
    received = datetime.now(UTC) - timedelta(days=days)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await session.execute(
            update(GdprRequest)
            .where(GdprRequest.merchant_id == tenant.merchant_id, GdprRequest.id == request_id)
            .values(created_at=received, retention_expires_at=received + timedelta(days=90))
        )


async def request_ids(resources: Resources, tenant: Tenant) -> set[str]:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        result = await session.scalars(
            select(GdprRequest.id).where(GdprRequest.merchant_id == tenant.merchant_id)
        )
        return set(result)


async def test_an_export_past_90_days_is_gone_and_a_younger_one_stays(
    resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    old_person, young_person, elsewhere = Person.new(), Person.new(), Person.new()
    await tell_story(resources, tenant, old_person)
    await tell_story(resources, tenant, young_person)
    await tell_story(resources, other_tenant, elsewhere)
    old = await request_data(resources, tenant, old_person)
    young = await request_data(resources, tenant, young_person)
    others = await request_data(resources, other_tenant, elsewhere)
    await aged(resources, tenant, old.id, days=91)
    await aged(resources, tenant, young.id, days=89)
    await aged(resources, other_tenant, others.id, days=60)

    summary = await run_gdpr_retention(resources, now=datetime.now(UTC))

    assert summary.failed_merchants == []
    assert await request_ids(resources, tenant) == {young.id}
    assert await read_export(resources, tenant, old.id) is None
    assert await read_export(resources, tenant, young.id) is not None
    assert await request_ids(resources, other_tenant) == {others.id}
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        [entry] = list(
            await session.scalars(
                select(AuditLog.metadata_).where(
                    AuditLog.merchant_id == tenant.merchant_id,
                    AuditLog.action == "gdpr_retention_purged",
                )
            )
        )
    assert entry["requests"] == 1

    # Run again: nothing more is due.
    again = await purge_gdpr_records({"resources": resources})
    assert tenant.merchant_id not in again["failed_merchants"]
    assert await request_ids(resources, tenant) == {young.id}


async def test_an_erasures_provider_deletion_record_goes_with_its_request(
    resources: Resources, tenant: Tenant
) -> None:
    person = Person.new()
    await tell_story(resources, tenant, person)
    erasure = await redact(resources, tenant, person, [])
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        kept = await session.scalars(
            select(GdprProfileDeletion.request_id).where(
                GdprProfileDeletion.merchant_id == tenant.merchant_id
            )
        )
        assert list(kept) == [erasure.id]
    await aged(resources, tenant, erasure.id, days=91)

    await run_gdpr_retention(resources, now=datetime.now(UTC))

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        left = await session.scalars(
            select(GdprProfileDeletion.id).where(
                GdprProfileDeletion.merchant_id == tenant.merchant_id
            )
        )
        assert list(left) == []


def test_the_retention_job_runs_daily() -> None:
    config = worker_settings(WORKER_ENV)
    crons = {cron_job.name: cron_job for cron_job in config["cron_jobs"]}

    schedule = crons["cron:purge_gdpr_records"]
    assert (schedule.hour, schedule.minute) == ({3}, {40})
