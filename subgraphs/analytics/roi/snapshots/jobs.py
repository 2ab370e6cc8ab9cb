"""The nightly ROI snapshot (run by `loyalnest worker`, on arq): every installed shop's
previous UTC day stored; and the backfill of a shop's last N days, on demand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.crypto import FieldCipher
from db.session import tenant_unit_of_work
from subgraphs.analytics.repository import installed_merchants
from subgraphs.analytics.roi.snapshots import service
from subgraphs.kit.jobs import Cron, for_each_merchant, job, job_resources
from subgraphs.kit.write_context import WriteContext

log = structlog.get_logger(__name__)


async def snapshot_days(
    sessions: async_sessionmaker[AsyncSession],
    cipher: FieldCipher,
    merchant_id: str,
    days: list[date],
    *,
    now: datetime,
) -> int:
    """Store each of the shop's ``days``, one transaction per day: a long backfill keeps what
    it has done if it stops, and running it again only replaces rows with the same figures."""
    for day in days:
        async with tenant_unit_of_work(sessions, merchant_id) as session:
            await service.snapshot_day(WriteContext(session, merchant_id, now=now), cipher, day)
    return len(days)


async def backfill_roi_snapshots(
    sessions: async_sessionmaker[AsyncSession],
    cipher: FieldCipher,
    merchant_id: str,
    *,
    days: int,
    now: datetime,
) -> int:
    """The shop's last ``days`` complete UTC days (1 to 731), oldest first: what the job below
    and an operator's command call."""
    return await snapshot_days(
        sessions, cipher, merchant_id, service.backfill_days(days, now=now), now=now
    )


async def snapshot_all(
    sessions: async_sessionmaker[AsyncSession], cipher: FieldCipher, *, now: datetime
) -> dict[str, int]:
    """Yesterday (UTC) for every installed shop; one shop's failure leaves the others' rows."""
    yesterday = [service.last_complete_day(now)]
    totals = {"merchants": 0}

    async def snapshot(merchant_id: str) -> None:
        await snapshot_days(sessions, cipher, merchant_id, yesterday, now=now)
        totals["merchants"] += 1

    sweep = await for_each_merchant(
        sessions,
        page=installed_merchants,
        merchant_id=lambda merchant_id: merchant_id,
        work=snapshot,
        failure_event="roi_snapshot_failed",
    )
    totals["failed"] = len(sweep.failed)
    return totals


# At 02:10 UTC: after the day's order facts are in (reconciliation catches what a webhook
# missed within the hour) and after the nightly analytics passes. A re-run replaces the day.
@job(timeout=3600, cron=Cron(hour=frozenset({2}), minute=frozenset({10})))
async def snapshot_roi_job(ctx: dict[str, Any]) -> dict[str, int]:
    resources = job_resources(ctx)
    totals = await snapshot_all(resources.sessions, resources.cipher, now=datetime.now(UTC))
    log.info("roi_snapshots_written", **totals)
    return totals


# Enqueued for one shop (after an install's Shopify backfill, or by an operator).
@job(timeout=3600)
async def backfill_roi_snapshots_job(ctx: dict[str, Any], merchant_id: str, days: int) -> int:
    resources = job_resources(ctx)
    written = await backfill_roi_snapshots(
        resources.sessions, resources.cipher, merchant_id, days=days, now=datetime.now(UTC)
    )
    log.info("roi_snapshots_backfilled", merchant_id=merchant_id, days=written)
    return written
