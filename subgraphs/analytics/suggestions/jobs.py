"""The nightly suggestion pass (run by `loyalnest worker`, on arq): every shop's week of
segment movements checked against the rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.session import tenant_unit_of_work
from subgraphs.analytics.repository import installed_merchants
from subgraphs.analytics.suggestions import service
from subgraphs.kit.jobs import Cron, for_each_merchant, job, job_resources

log = structlog.get_logger(__name__)


async def suggest_all(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime
) -> dict[str, int]:
    totals = {"merchants": 0, "suggested": 0}

    async def suggest(merchant_id: str) -> None:
        async with tenant_unit_of_work(sessions, merchant_id) as session:
            made = await service.suggest(session, merchant_id, now=now)
        totals["merchants"] += 1
        totals["suggested"] += len(made)

    sweep = await for_each_merchant(
        sessions,
        page=installed_merchants,
        merchant_id=lambda merchant_id: merchant_id,
        work=suggest,
        failure_event="campaign_suggestions_failed",
    )
    totals["failed"] = len(sweep.failed)
    return totals


# After the RFM pass (01:00 UTC), whose score changes are the movements.
@job(timeout=3600, cron=Cron(hour=frozenset({1}), minute=frozenset({20})))
async def suggest_campaigns_job(ctx: dict[str, Any]) -> dict[str, int]:
    totals = await suggest_all(job_resources(ctx).sessions, now=datetime.now(UTC))
    log.info("campaigns_suggested", **totals)
    return totals
