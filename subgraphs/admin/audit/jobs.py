"""Background jobs of the audit domain (run by `loyalnest worker`, on arq): the upkeep of the
append-only logs' monthly partitions."""

from __future__ import annotations

from typing import Any

import structlog

from db.session import system_unit_of_work
from subgraphs.admin.audit.repository import maintain_log_partitions
from subgraphs.kit.jobs import Cron, job, job_resources

log = structlog.get_logger(__name__)


@job(cron=Cron(hour=frozenset({3}), minute=frozenset({17}), run_at_startup=True))
async def maintain_log_partitions_job(ctx: dict[str, Any]) -> list[tuple[str, str]]:
    """Create the coming months' log partitions and drop those past the 90-day retention."""
    async with system_unit_of_work(job_resources(ctx).sessions) as session:
        changes = await maintain_log_partitions(session)
    for action, partition in changes:
        log.info("log_partition", action=action, partition=partition)
    return changes
