"""Background jobs of orders (run by `loyalnest worker`, on arq)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from subgraphs.kit.events import ledger_changed
from subgraphs.kit.integrations.shopify_admin import ShopifyAdminError
from subgraphs.kit.jobs import Cron, for_each_merchant, job, job_resources
from subgraphs.points.orders.reconciliation import reconcile_shop
from subgraphs.points.orders.repository import ConnectedShop, connected_shops
from subgraphs.points.shopify import ShopifyConnector

log = structlog.get_logger(__name__)

# Hourly runs reading two hours back: every order is seen at least twice, and an hour of
# downtime of this job loses nothing.
RECONCILIATION_WINDOW = timedelta(hours=2)


# Hourly: orders no webhook delivered (Shopify gives up after 48 hours of retries).
@job(timeout=3600, cron=Cron(minute=frozenset({37})))
async def reconcile_orders_job(ctx: dict[str, Any]) -> dict[str, int]:
    """Award the orders no webhook delivered (and reverse the unseen cancellations), shop by
    shop; a shop whose Admin API fails is logged and retried on the next run."""
    resources = job_resources(ctx)
    connector = ShopifyConnector.for_process(resources, ctx.get("http"))
    now = datetime.now(UTC)
    totals = {"shops": 0, "failed": 0, "awarded": 0, "reversed": 0, "skipped": 0}

    async def reconcile(shop: ConnectedShop) -> None:
        connection = shop.connection
        try:
            async with connector.admin_client(
                shop.merchant_id, connection, resources.cipher
            ) as client:
                if client is None:
                    return
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
            log.warning("reconciliation_failed", shop=connection.shop_domain, error=str(exc))
            return
        totals["shops"] += 1
        totals["awarded"] += len(report.awarded)
        totals["reversed"] += len(report.reversed)
        totals["skipped"] += len(report.skipped_incomplete)
        if report.awarded or report.reversed:
            await ledger_changed(resources, shop.merchant_id, source="reconciliation")
        log.info(
            "orders_reconciled",
            shop=connection.shop_domain,
            read=report.orders_read,
            awarded=report.awarded,
            reversed=report.reversed,
            skipped_incomplete=report.skipped_incomplete,
        )

    sweep = await for_each_merchant(
        resources.sessions,
        page=connected_shops,
        merchant_id=lambda shop: shop.merchant_id,
        work=reconcile,
        failure_event="reconciliation_failed",
    )
    # A shop that failed for another reason than Shopify (logged by the sweep) is retried too.
    totals["failed"] += len(sweep.failed)
    return totals
