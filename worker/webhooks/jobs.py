"""The webhook inbox's jobs: process one delivery, sweep up lost ones, forget old receipts."""

from __future__ import annotations

from typing import Any

import structlog

from db.session import system_unit_of_work
from subgraphs.admin.deliveries.repository import due_deliveries, forget_old_receipts
from subgraphs.kit.jobs import Cron, delivery_job_id, enqueue_webhook_delivery, job, job_queue
from subgraphs.kit.resources import Resources
from subgraphs.kit.settings import Settings
from worker.webhooks.batches import batches_of
from worker.webhooks.processing import RECEIPT_RETENTION_DAYS, SWEEP_BATCH

log = structlog.get_logger(__name__)


@job(
    # A delivery is a few statements: a job still running after the timeout is stuck (or its
    # worker died), and arq runs it again. No result is kept, so the sweeper can enqueue the
    # delivery's job id again as soon as it has finished.
    timeout=lambda settings: settings.webhook_job_timeout_seconds,
    keep_result=0,
    # Waits for its batch, which holds the connection: as many at once as fill the batches.
    shares_slots=False,
)
async def process_webhook_delivery(ctx: dict[str, Any], merchant_id: str, delivery_id: str) -> str:
    """arq job: process one inbox row, in a batch with the merchant's other rows whose jobs
    run at the same time (``batches``)."""
    outcome = await batches_of(ctx["resources"]).process(merchant_id, delivery_id)
    return outcome.value


def _sweep_schedule(settings: Settings) -> Cron:
    every = min(max(settings.inbox_sweep_every_seconds, 1), 60)
    return Cron(second=frozenset(range(0, 60, every)), run_at_startup=True)


# Deliveries whose job was lost (Redis down at the shim, a killed worker).
@job(cron=_sweep_schedule)
async def sweep_webhook_inbox(ctx: dict[str, Any]) -> int:
    """arq cron: enqueue pending deliveries whose time has passed without a job taking them
    (enqueued while Redis was down, or their worker was killed)."""
    resources: Resources = ctx["resources"]
    settings = resources.settings
    async with system_unit_of_work(resources.sessions) as session:
        due = await due_deliveries(
            session, older_than_seconds=settings.inbox_sweep_grace_seconds, limit=SWEEP_BATCH
        )
    queue = job_queue(resources.redis)
    # Past this, no live job can still hold the row: arq cancels a job at its timeout.
    presumed_dead_after = settings.webhook_job_timeout_seconds + settings.inbox_sweep_grace_seconds
    for delivery in due:
        # First under the delivery's own job id, which arq ignores while that job is queued
        # or running: sweeping a backlog adds nothing. A job whose worker was killed keeps
        # its id in Redis, so once it is surely dead it gets a second id, one per window,
        # which bounds the duplicates (harmless: a second claim finds the row done).
        job_id = delivery_job_id(delivery.id)
        if delivery.overdue_seconds > presumed_dead_after:
            window = int(delivery.overdue_seconds // presumed_dead_after)
            job_id = f"{job_id}:sweep:{window}"
        await enqueue_webhook_delivery(queue, delivery.merchant_id, delivery.id, job_id=job_id)
    if due:
        log.info("webhook_inbox_swept", enqueued=len(due))
    return len(due)


@job(cron=Cron(hour=frozenset({3}), minute=frozenset({41})))
async def forget_old_receipts_job(ctx: dict[str, Any]) -> int:
    """Forget webhook ids older than Shopify could still redeliver."""
    resources: Resources = ctx["resources"]
    async with system_unit_of_work(resources.sessions) as session:
        return await forget_old_receipts(session, older_than_days=RECEIPT_RETENTION_DAYS)
