"""The GDPR domain's worker jobs: building data request exports, and the sweep that finds
those a lost message or a killed worker left pending (``export_runs``)."""

from __future__ import annotations

from typing import Any

import structlog

from subgraphs.admin.gdpr.export_runs import (
    BUILD_GDPR_EXPORT,
    run_export,
    sweep_pending_exports,
)
from subgraphs.kit.jobs import gdpr_sweep_schedule, job, job_queue, job_resources

log = structlog.get_logger(__name__)


@job(timeout=1800, keep_result=0)
async def build_gdpr_export(ctx: dict[str, Any], merchant_id: str, request_id: str) -> str | None:
    """arq job (``BUILD_GDPR_EXPORT``), enqueued once a data request is accepted: the status
    it ends in (None: another worker holds it, or it is done already)."""
    status = await run_export(job_resources(ctx), merchant_id, request_id)
    return None if status is None else status.value


assert build_gdpr_export.__name__ == BUILD_GDPR_EXPORT, "arq enqueues jobs by function name"


@job(timeout=300, cron=gdpr_sweep_schedule)
async def sweep_gdpr_exports(ctx: dict[str, Any]) -> int:
    resources = job_resources(ctx)
    enqueued = await sweep_pending_exports(resources, job_queue(resources.redis))
    if enqueued:
        log.info("gdpr_exports_reenqueued", count=enqueued)
    return enqueued
