"""The nightly RFM pass (run by `loyalnest worker`, on arq)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from db.session import tenant_unit_of_work
from subgraphs.analytics.repository import installed_merchants
from subgraphs.analytics.rfm import service
from subgraphs.kit.events import segments_recomputed
from subgraphs.kit.jobs import Cron, for_each_merchant, job, job_resources
from subgraphs.kit.resources import Resources

log = structlog.get_logger(__name__)


async def recompute_all(resources: Resources, *, now: datetime) -> dict[str, int]:
    """Every installed shop scored again (one transaction each, so one shop's failure keeps
    the others' scores), then the segment counts refreshed once for all of them, and each
    scored shop's cached metrics retired and live dashboards told."""
    sessions = resources.sessions
    totals = {"merchants": 0, "scored": 0, "changed": 0}
    scored: list[str] = []

    async def score(merchant_id: str) -> None:
        async with tenant_unit_of_work(sessions, merchant_id) as session:
            result = await service.recompute(session, merchant_id, now=now)
        scored.append(merchant_id)
        totals["merchants"] += 1
        totals["scored"] += result.scored
        totals["changed"] += result.changed + result.cleared

    sweep = await for_each_merchant(
        sessions,
        page=installed_merchants,
        merchant_id=lambda merchant_id: merchant_id,
        work=score,
        failure_event="rfm_recompute_failed",
    )
    await service.refresh_counts(sessions)
    for merchant_id in scored:
        await segments_recomputed(resources, merchant_id)
    totals["failed"] = len(sweep.failed)
    return totals


# Nightly at 01:00 UTC, as the specification's `0 1 * * *`: recency moves with the calendar
# even when no order arrives, and the shop's average order value with every order.
@job(timeout=3600, cron=Cron(hour=frozenset({1}), minute=frozenset({0})))
async def recompute_rfm_job(ctx: dict[str, Any]) -> dict[str, int]:
    totals = await recompute_all(job_resources(ctx), now=datetime.now(UTC))
    log.info("rfm_recomputed", **totals)
    return totals
