"""The webhook inbox's jobs: process one delivery (a retry, one an admin asked for again),
wake the merchants whose wake-up was missed, forget old receipts."""

from __future__ import annotations

from typing import Any

import structlog

from db.session import system_unit_of_work
from subgraphs.admin.deliveries.repository import forget_old_receipts
from subgraphs.kit.jobs import Cron, job
from subgraphs.kit.resources import Resources
from subgraphs.kit.settings import Settings
from worker.webhooks.batches import batches_of
from worker.webhooks.processing import RECEIPT_RETENTION_DAYS
from worker.webhooks.wakeups import wake_due_merchants

log = structlog.get_logger(__name__)


@job(
    # A delivery is a few statements: a job still running after the timeout is stuck (or its
    # worker died), and arq runs it again. No result is kept: a job id can come again (a
    # retry's, an admin's) as soon as it has finished.
    timeout=lambda settings: settings.webhook_job_timeout_seconds,
    keep_result=0,
    # Waits for its batch, which holds the connection: as many at once as fill the batches.
    shares_slots=False,
)
async def process_webhook_delivery(ctx: dict[str, Any], merchant_id: str, delivery_id: str) -> str:
    """arq job: process one inbox row (a retry come due, or one an admin asked for again), in
    the merchant's next batch (``batches``)."""
    outcome = await batches_of(ctx["resources"]).process(merchant_id, delivery_id)
    return outcome.value


def _sweep_schedule(settings: Settings) -> Cron:
    every = min(max(settings.inbox_sweep_every_seconds, 1), 60)
    return Cron(second=frozenset(range(0, 60, every)), run_at_startup=True)


# Wake-ups missed: a worker killed mid-batch (its rows pending again once Postgres notices),
# a retry come due, a notification sent while no worker listened.
@job(cron=_sweep_schedule)
async def sweep_webhook_inbox(ctx: dict[str, Any]) -> int:
    """arq cron: wake every merchant whose deliveries have been due for longer than the grace
    (a wake-up is cheap, but one per merchant with a backlog each sweep would be noise)."""
    resources: Resources = ctx["resources"]
    woken = await wake_due_merchants(
        resources,
        batches_of(resources).wake,
        older_than_seconds=resources.settings.inbox_sweep_grace_seconds,
    )
    if woken:
        log.info("webhook_inbox_swept", merchants=woken)
    return woken


@job(cron=Cron(hour=frozenset({3}), minute=frozenset({41})))
async def forget_old_receipts_job(ctx: dict[str, Any]) -> int:
    """Forget webhook ids older than Shopify could still redeliver."""
    resources: Resources = ctx["resources"]
    async with system_unit_of_work(resources.sessions) as session:
        return await forget_old_receipts(session, older_than_days=RECEIPT_RETENTION_DAYS)
