"""Background jobs of points expiry (run by `loyalnest worker`, on arq).

``expire_points`` and ``queue_expiry_reminders`` are the arq functions; they read the clock and
hand it to ``run_expiry`` / ``run_expiry_reminders``, which tests call with a clock of their
own. Both are safe to re-run at any time: expiry only takes what has not been taken yet, and
a reminder is recorded once per customer and expiry day before it is sent.

The worker context must hold ``resources`` (kit.resources.Resources); an ``http`` client
(httpx.AsyncClient) is used when present, else one is opened for the run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.session import tenant_unit_of_work
from subgraphs.kit.events import ledger_changed
from subgraphs.kit.integrations.http_retries import DEFAULT_RETRY_POLICY, RetryPolicy
from subgraphs.kit.jobs import Cron, for_each_merchant, job, job_resources
from subgraphs.kit.resources import Resources
from subgraphs.points.errors import PointsError
from subgraphs.points.expiry import service as expiry
from subgraphs.points.orders.repository import shop_connection
from subgraphs.points.program.repository import (
    merchants_with_expiry,
    merchants_with_notifications,
)

log = structlog.get_logger(__name__)

EXPIRY_BATCH = 500
REMINDER_BATCH = 100
HTTP_TIMEOUT = httpx.Timeout(10.0)
# One page of merchant ids after a cursor (``kit.jobs.for_each_merchant``).
MerchantPage = Callable[[AsyncSession, str | None, int], Awaitable[Sequence[str]]]


@dataclass
class MerchantRun:
    """A run over every merchant: how many it walked, and which failed (and were logged)."""

    merchants: int = 0
    failed_merchants: list[str] = field(default_factory=list)

    async def walk(
        self,
        resources: Resources,
        page: MerchantPage,
        work: Callable[[str], Awaitable[None]],
        failure_event: str,
    ) -> None:
        sweep = await for_each_merchant(
            resources.sessions,
            page=page,
            merchant_id=str,
            work=work,
            failure_event=failure_event,
        )
        self.merchants = len(sweep.handled) + len(sweep.failed)
        self.failed_merchants = sweep.failed

    def reported(self, event: str) -> dict[str, Any]:
        """Logged (failed merchants counted) and returned as the job's result."""
        report = asdict(self)
        log.info(event, **{**report, "failed_merchants": len(self.failed_merchants)})
        return report


@dataclass
class ExpirySummary(MerchantRun):
    customers: int = 0
    points: int = 0


@dataclass
class ReminderSummary(MerchantRun):
    sent: int = 0
    failed: int = 0


# --- expiry ---------------------------------------------------------------------------------


async def run_expiry(
    resources: Resources, *, now: datetime, batch_size: int = EXPIRY_BATCH
) -> ExpirySummary:
    """Expire due points of every merchant whose points expire."""
    summary = ExpirySummary()

    async def expire(merchant_id: str) -> None:
        await _expire_merchant(resources, merchant_id, now, batch_size, summary)

    await summary.walk(resources, merchants_with_expiry, expire, "points_expiry_failed")
    return summary


async def _expire_merchant(
    resources: Resources,
    merchant_id: str,
    now: datetime,
    batch_size: int,
    summary: ExpirySummary,
) -> None:
    # Customers found due but left unexpired (activity in between, a refusal) would be listed
    # again and again; each is tried once per run.
    tried: set[str] = set()
    while True:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            batch = await expiry.customers_due_for_expiry(
                session, merchant_id, now=now, limit=batch_size
            )
        fresh = [customer_id for customer_id in batch if customer_id not in tried]
        if not fresh:
            return
        for customer_id in fresh:
            tried.add(customer_id)
            try:
                # One transaction per customer: locks are held for one customer only, and
                # what committed stays committed if the run stops halfway.
                async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
                    entry = await expiry.expire_customer(session, merchant_id, customer_id, now=now)
            except PointsError as error:
                log.warning(
                    "points_expiry_skipped",
                    merchant_id=merchant_id,
                    customer_id=customer_id,
                    error=error.message,
                )
                continue
            if entry is None or entry.replayed:
                continue
            summary.customers += 1
            summary.points -= entry.transaction.points
            await ledger_changed(
                resources,
                merchant_id,
                customer_id=customer_id,
                transaction_id=entry.transaction.id,
            )


# Hourly: points expire close to their date, and a failed run is retried soon. Walking every
# merchant can outlast arq's 5-minute default timeout.
@job(timeout=3600, cron=Cron(minute=frozenset({7})))
async def expire_points(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq job: expire the points whose time has come, for every merchant."""
    summary = await run_expiry(job_resources(ctx), now=datetime.now(UTC))
    return summary.reported("points_expired")


# --- reminders ------------------------------------------------------------------------------


async def run_expiry_reminders(
    resources: Resources,
    http: httpx.AsyncClient,
    *,
    now: datetime,
    retry: RetryPolicy = DEFAULT_RETRY_POLICY,
    batch_size: int = REMINDER_BATCH,
) -> ReminderSummary:
    """Remind every customer whose points expire within 30 days, once per expiry day."""
    summary = ReminderSummary()

    async def remind(merchant_id: str) -> None:
        await _remind_merchant(resources, http, merchant_id, now, retry, batch_size, summary)

    await summary.walk(resources, merchants_with_notifications, remind, "expiry_reminders_failed")
    return summary


async def _remind_merchant(
    resources: Resources,
    http: httpx.AsyncClient,
    merchant_id: str,
    now: datetime,
    retry: RetryPolicy,
    batch_size: int,
    summary: ReminderSummary,
) -> None:
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        setup = await expiry.reminder_setup(session, merchant_id, resources.cipher)
        if setup is None:
            return
        shop = await shop_connection(session, merchant_id)
        abandoned = await expiry.abandoned_reminders(
            session, merchant_id, now=now, limit=batch_size
        )
    client = expiry.notification_client(setup.provider, http, setup.api_key, retry=retry)
    pending = abandoned
    while True:
        # Queued and committed before anything is sent, and no transaction stays open across
        # the HTTP calls: the unique (customer, day) row is what keeps a reminder single.
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            due = await expiry.due_reminders(
                session, merchant_id, setup.policy, now=now, limit=batch_size
            )
            pending += await expiry.queue_reminders(
                session, merchant_id, due, provider=setup.provider, now=now
            )
            customer_ids = sorted({reminder.customer_id for reminder in pending})
            recipients = (
                await expiry.recipients(session, merchant_id, resources.cipher, customer_ids)
                if customer_ids
                else {}
            )
        if pending:
            deliveries = await expiry.deliver(
                client,
                pending,
                recipients,
                points_name=setup.points_name,
                shop_name=shop.shop_domain,
            )
            async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
                for delivery in deliveries:
                    await expiry.record_delivery(
                        session, merchant_id, delivery, provider=setup.provider, now=now
                    )
            failed = sum(1 for delivery in deliveries if delivery.error is not None)
            summary.failed += failed
            summary.sent += len(deliveries) - failed
        if len(due) < batch_size:
            return
        pending = []


# Daily at 15:00 UTC: daytime in the Americas and Europe, when it gets read.
@job(timeout=3600, cron=Cron(hour=frozenset({15}), minute=frozenset({0})))
async def queue_expiry_reminders(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq job: send the 30-days-before-expiry reminders that are due, for every merchant."""
    async with AsyncExitStack() as stack:
        http: httpx.AsyncClient | None = ctx.get("http")
        if http is None:
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=HTTP_TIMEOUT))
        summary = await run_expiry_reminders(job_resources(ctx), http, now=datetime.now(UTC))
    return summary.reported("expiry_reminders_sent")
