"""The nightly churn pass (run by `loyalnest worker`, on arq): every shop's model trained
again on its own history, and every customer scored with it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ChurnModelStatus
from db.session import tenant_unit_of_work
from subgraphs.analytics.churn import service
from subgraphs.analytics.repository import installed_merchants
from subgraphs.kit.jobs import Cron, for_each_merchant, job, job_resources

log = structlog.get_logger(__name__)


async def train_all(sessions: async_sessionmaker[AsyncSession], *, now: datetime) -> dict[str, int]:
    """One transaction per shop: a shop whose training fails keeps yesterday's scores."""
    totals = {"merchants": 0, "ready": 0, "scored": 0, "changed": 0}

    async def train(merchant_id: str) -> None:
        async with tenant_unit_of_work(sessions, merchant_id) as session:
            result = await service.train_and_score(session, merchant_id, now=now)
        totals["merchants"] += 1
        totals["ready"] += result.model.status == ChurnModelStatus.READY
        totals["scored"] += result.scored
        totals["changed"] += result.changed

    sweep = await for_each_merchant(
        sessions,
        page=installed_merchants,
        merchant_id=lambda merchant_id: merchant_id,
        work=train,
        failure_event="churn_training_failed",
    )
    totals["failed"] = len(sweep.failed)
    return totals


# After the RFM pass (01:00 UTC): a day's orders are in the facts by then.
@job(timeout=3600, cron=Cron(hour=frozenset({1}), minute=frozenset({30})))
async def train_churn_models_job(ctx: dict[str, Any]) -> dict[str, int]:
    totals = await train_all(job_resources(ctx).sessions, now=datetime.now(UTC))
    log.info("churn_models_trained", **totals)
    return totals
