"""Background jobs of rewards (run by `loyalnest worker`, on arq)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import structlog

from subgraphs.kit.jobs import Cron, job, job_resources
from subgraphs.points.rewards import redemption
from subgraphs.points.shopify import ShopifyConnector

log = structlog.get_logger(__name__)


# Pending redemptions are settled within minutes of a crash.
@job(timeout=600, cron=Cron(minute=frozenset(range(0, 60, 5))))
async def resolve_stale_redemptions_job(ctx: dict[str, Any]) -> dict[str, int]:
    """Settle redemptions a crash left between the debit and Shopify's answer."""
    resources = job_resources(ctx)
    report = await redemption.resolve_stale_redemptions(
        resources, ShopifyConnector.for_process(resources, ctx.get("http"))
    )
    counts = asdict(report)
    log.info("stale_redemptions_resolved", **counts)
    return counts
