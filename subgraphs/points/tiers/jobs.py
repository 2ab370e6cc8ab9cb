"""Background jobs of VIP tiers (run by `loyalnest worker`, on arq)."""

from __future__ import annotations

from typing import Any

import structlog

from subgraphs.kit.jobs import Cron, job, job_resources
from subgraphs.points.tiers.service import recalculate_all_tiers

log = structlog.get_logger(__name__)


# Nightly: tiers follow RFM scores, which change outside the ledger.
@job(timeout=3600, cron=Cron(hour=frozenset({4}), minute=frozenset({23})))
async def recalculate_tiers_job(ctx: dict[str, Any]) -> dict[str, int]:
    """Reassign VIP tiers for what changes outside the ledger (RFM scores from analytics)."""
    sweep = await recalculate_all_tiers(job_resources(ctx).sessions)
    log.info("tiers_recalculated", merchants=len(sweep.recalculated), failed=len(sweep.failed))
    return {"merchants": len(sweep.recalculated), "failed": len(sweep.failed)}
