"""The worker's side of imports: applying queued imports, and finding those a lost job or a
killed worker left unfinished (``imports.queued``), and deleting staged files past their day."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from db.session import system_unit_of_work
from subgraphs.kit.jobs import Cron, job, job_queue, job_resources, sweep_schedule
from subgraphs.points.imports.queued import (
    COMMIT_DATA_IMPORT,
    run_queued_import,
    sweep_unfinished_imports,
)
from subgraphs.points.imports.repository import purge_expired_uploads

log = structlog.get_logger(__name__)


@job(timeout=1800, keep_result=0)
async def commit_data_import(ctx: dict[str, Any], merchant_id: str, import_id: str) -> str | None:
    """arq job (``COMMIT_DATA_IMPORT``), enqueued once a commit is queued: the status the
    import ends in (None: another worker holds it)."""
    status = await run_queued_import(job_resources(ctx), merchant_id, import_id)
    return None if status is None else status.value


assert commit_data_import.__name__ == COMMIT_DATA_IMPORT, "arq enqueues jobs by function name"


@job(timeout=300, cron=sweep_schedule)
async def sweep_data_imports(ctx: dict[str, Any]) -> int:
    resources = job_resources(ctx)
    enqueued = await sweep_unfinished_imports(resources, job_queue(resources.redis))
    if enqueued:
        log.info("data_imports_reenqueued", count=enqueued)
    return enqueued


# Hourly: staged files no import applied within their day.
@job(timeout=600, cron=Cron(minute=frozenset({41})))
async def purge_expired_uploads_job(ctx: dict[str, Any]) -> int:
    resources = job_resources(ctx)
    async with system_unit_of_work(resources.sessions) as session:
        purged = await purge_expired_uploads(session, datetime.now(UTC))
    if purged:
        log.info("staged_uploads_purged", count=purged)
    return purged
