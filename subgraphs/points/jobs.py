"""Background jobs of the points program (run by `loyalnest worker`, on arq).

``expire_points`` and ``queue_expiry_reminders`` are the arq functions; they read the clock and
hand it to ``run_expiry`` / ``run_expiry_reminders``, which tests call with a clock of their
own. Both are safe to re-run at any time: expiry only takes what has not been taken yet, and
a reminder is recorded once per customer and expiry day before it is sent.

The worker context must hold ``resources`` (kit.resources.Resources); an ``http`` client
(httpx.AsyncClient) is used when present, else one is opened for the run.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.events import ledger_changed
from subgraphs.kit.integrations.http_retries import DEFAULT_RETRY_POLICY, RetryPolicy
from subgraphs.kit.integrations.shopify_admin import ShopifyAdminError
from subgraphs.kit.jobs import Cron, job
from subgraphs.kit.resources import Resources
from subgraphs.points.repository.reconciliation import connected_shops
from subgraphs.points.repository.reminders import (
    MerchantShop,
    merchants_with_expiry,
    merchants_with_notifications,
)
from subgraphs.points.repository.rewards import MerchantConnection
from subgraphs.points.service import expiry, redemption, tiers
from subgraphs.points.service.discounts import ShopifyConnector
from subgraphs.points.service.errors import PointsError
from subgraphs.points.service.reconciliation import reconcile_shop

log = structlog.get_logger(__name__)

MERCHANT_PAGE = 200
EXPIRY_BATCH = 500
REMINDER_BATCH = 100
HTTP_TIMEOUT = httpx.Timeout(10.0)


@dataclass
class ExpirySummary:
    merchants: int = 0
    customers: int = 0
    points: int = 0
    failed_merchants: list[str] = field(default_factory=list)


@dataclass
class ReminderSummary:
    merchants: int = 0
    sent: int = 0
    failed: int = 0
    failed_merchants: list[str] = field(default_factory=list)


# --- expiry ---------------------------------------------------------------------------------


async def run_expiry(
    resources: Resources, *, now: datetime, batch_size: int = EXPIRY_BATCH
) -> ExpirySummary:
    """Expire due points of every merchant whose points expire."""
    summary = ExpirySummary()
    after: str | None = None
    while True:
        async with system_unit_of_work(resources.sessions) as session:
            page = await merchants_with_expiry(session, after=after, limit=MERCHANT_PAGE)
        for merchant_id in page:
            summary.merchants += 1
            try:
                await _expire_merchant(resources, merchant_id, now, batch_size, summary)
            except Exception:
                # One merchant's broken data must not stop every merchant after it.
                log.exception("points_expiry_failed", merchant_id=merchant_id)
                summary.failed_merchants.append(merchant_id)
        if len(page) < MERCHANT_PAGE:
            return summary
        after = page[-1]


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
    summary = await run_expiry(_resources(ctx), now=datetime.now(UTC))
    log.info(
        "points_expired",
        merchants=summary.merchants,
        customers=summary.customers,
        points=summary.points,
        failed_merchants=len(summary.failed_merchants),
    )
    return {
        "merchants": summary.merchants,
        "customers": summary.customers,
        "points": summary.points,
        "failed_merchants": summary.failed_merchants,
    }


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
    after: str | None = None
    while True:
        async with system_unit_of_work(resources.sessions) as session:
            page = await merchants_with_notifications(session, after=after, limit=MERCHANT_PAGE)
        for shop in page:
            summary.merchants += 1
            try:
                await _remind_merchant(resources, http, shop, now, retry, batch_size, summary)
            except Exception:
                log.exception("expiry_reminders_failed", merchant_id=shop.merchant_id)
                summary.failed_merchants.append(shop.merchant_id)
        if len(page) < MERCHANT_PAGE:
            return summary
        after = page[-1].merchant_id


async def _remind_merchant(
    resources: Resources,
    http: httpx.AsyncClient,
    shop: MerchantShop,
    now: datetime,
    retry: RetryPolicy,
    batch_size: int,
    summary: ReminderSummary,
) -> None:
    merchant_id = shop.merchant_id
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        setup = await expiry.reminder_setup(session, merchant_id, resources.cipher)
        abandoned = (
            await expiry.abandoned_reminders(session, merchant_id, now=now, limit=batch_size)
            if setup is not None
            else []
        )
    if setup is None:
        return
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
        summary = await run_expiry_reminders(_resources(ctx), http, now=datetime.now(UTC))
    log.info(
        "expiry_reminders_sent",
        merchants=summary.merchants,
        sent=summary.sent,
        failed=summary.failed,
        failed_merchants=len(summary.failed_merchants),
    )
    return {
        "merchants": summary.merchants,
        "sent": summary.sent,
        "failed": summary.failed,
        "failed_merchants": summary.failed_merchants,
    }


def _resources(ctx: dict[str, Any]) -> Resources:
    resources = ctx.get("resources")
    if not isinstance(resources, Resources):
        raise RuntimeError("the worker context has no 'resources': see worker/settings.py")
    return resources


# Pending redemptions are settled within minutes of a crash.
@job(timeout=600, cron=Cron(minute=frozenset(range(0, 60, 5))))
async def resolve_stale_redemptions_job(ctx: dict[str, Any]) -> dict[str, int]:
    """Settle redemptions a crash left between the debit and Shopify's answer."""
    resources = _resources(ctx)
    report = await redemption.resolve_stale_redemptions(
        resources, ShopifyConnector.for_process(resources, ctx.get("http"))
    )
    log.info(
        "stale_redemptions_resolved",
        issued=report.issued,
        refunded=report.refunded,
        still_pending=report.still_pending,
    )
    return {
        "issued": report.issued,
        "refunded": report.refunded,
        "still_pending": report.still_pending,
    }


# Nightly: tiers follow RFM scores, which change outside the ledger.
@job(timeout=3600, cron=Cron(hour=frozenset({4}), minute=frozenset({23})))
async def recalculate_tiers_job(ctx: dict[str, Any]) -> dict[str, int]:
    """Reassign VIP tiers for what changes outside the ledger (RFM scores from analytics)."""
    sweep = await tiers.recalculate_all_tiers(_resources(ctx).sessions)
    log.info("tiers_recalculated", merchants=len(sweep.recalculated), failed=len(sweep.failed))
    return {"merchants": len(sweep.recalculated), "failed": len(sweep.failed)}


# Hourly runs reading two hours back: every order is seen at least twice, and an hour of
# downtime of this job loses nothing.
RECONCILIATION_WINDOW = timedelta(hours=2)


# Hourly: orders no webhook delivered (Shopify gives up after 48 hours of retries).
@job(timeout=3600, cron=Cron(minute=frozenset({37})))
async def reconcile_orders_job(ctx: dict[str, Any]) -> dict[str, int]:
    """Award the orders no webhook delivered (and reverse the unseen cancellations), shop by
    shop; a shop whose Admin API fails is logged and retried on the next run."""
    resources = _resources(ctx)
    connector = ShopifyConnector.for_process(resources, ctx.get("http"))
    now = datetime.now(UTC)
    async with system_unit_of_work(resources.sessions) as session:
        shops = await connected_shops(session)
    totals = {"shops": 0, "failed": 0, "awarded": 0, "reversed": 0, "skipped": 0}
    for shop in shops:
        connection = MerchantConnection(shop.shop_domain, shop.api_token_encrypted)
        try:
            async with connector.admin_client(
                shop.merchant_id, connection, resources.cipher
            ) as client:
                if client is None:
                    continue
                report = await reconcile_shop(
                    resources.sessions,
                    resources.cipher,
                    shop.merchant_id,
                    client,
                    since=now - RECONCILIATION_WINDOW,
                    now=now,
                )
        except ShopifyAdminError as exc:
            totals["failed"] += 1
            log.warning("reconciliation_failed", shop=shop.shop_domain, error=str(exc))
            continue
        totals["shops"] += 1
        totals["awarded"] += len(report.awarded)
        totals["reversed"] += len(report.reversed)
        totals["skipped"] += len(report.skipped_incomplete)
        if report.awarded or report.reversed:
            await ledger_changed(resources, shop.merchant_id, source="reconciliation")
        log.info(
            "orders_reconciled",
            shop=shop.shop_domain,
            read=report.orders_read,
            awarded=report.awarded,
            reversed=report.reversed,
            skipped_incomplete=report.skipped_incomplete,
        )
    return totals
