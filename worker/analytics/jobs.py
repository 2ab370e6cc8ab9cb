"""Analytics' jobs that reach into the points program: order facts no webhook delivered
(reconciliation), the backfill of order facts from the points ledger, and the campaigns of
accepted suggestions.

Reconciliation reads the same two-hour window of a shop's orders as the points
reconciliation (``points.orders.jobs``) and records them as facts, one statement per page:
the worker is where analytics may use points' Shopify connection (subgraphs never import
each other). It reads Shopify a second time; sharing one read between the two is left for
when the Admin API budget says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import CampaignKind, SuggestionStatus
from db.session import tenant_unit_of_work
from subgraphs.analytics.orders import service as order_facts
from subgraphs.analytics.repository import installed_merchants
from subgraphs.analytics.suggestions import service as suggestions
from subgraphs.kit.integrations.shopify_admin import ShopifyAdminClient, ShopifyAdminError
from subgraphs.kit.jobs import Cron, for_each_merchant, job, job_resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.campaigns.rules import CampaignDraft
from subgraphs.points.campaigns.service import create_campaign
from subgraphs.points.orders.repository import ConnectedShop, connected_shops
from subgraphs.points.shopify import ShopifyConnector

log = structlog.get_logger(__name__)

RECONCILIATION_WINDOW = timedelta(hours=2)


async def reconcile_order_facts(
    sessions: async_sessionmaker[AsyncSession],
    merchant_id: str,
    client: ShopifyAdminClient,
    *,
    since: datetime,
) -> int:
    """Record every order Shopify lists since ``since``; one transaction per page. Returns the
    orders read."""
    read = 0
    after: str | None = None
    while True:
        page = await client.orders_since(since, after=after)
        read += len(page.orders)
        async with tenant_unit_of_work(sessions, merchant_id) as session:
            await order_facts.record_reconciled_orders(
                session,
                merchant_id,
                [order_facts.fact_of_admin_api_order(order) for order in page.orders],
            )
        if not page.has_next_page:
            return read
        after = page.end_cursor


# Hourly, a few minutes after the points reconciliation (minute 37), so both see one window.
@job(timeout=3600, cron=Cron(minute=frozenset({43})))
async def reconcile_order_facts_job(ctx: dict[str, Any]) -> dict[str, int]:
    """Order facts for every connected shop's recent orders; a shop whose Admin API fails is
    logged and read again on the next run."""
    resources = job_resources(ctx)
    connector = ShopifyConnector.for_process(resources, ctx.get("http"))
    since = datetime.now(UTC) - RECONCILIATION_WINDOW
    totals = {"shops": 0, "failed": 0, "orders": 0}

    async def reconcile(shop: ConnectedShop) -> None:
        try:
            async with connector.admin_client(
                shop.merchant_id, shop.connection, resources.cipher
            ) as client:
                if client is None:
                    return
                totals["orders"] += await reconcile_order_facts(
                    resources.sessions, shop.merchant_id, client, since=since
                )
        except ShopifyAdminError as exc:
            totals["failed"] += 1
            log.warning(
                "order_facts_reconciliation_failed", merchant_id=shop.merchant_id, error=str(exc)
            )
            return
        totals["shops"] += 1

    sweep = await for_each_merchant(
        resources.sessions,
        page=connected_shops,
        merchant_id=lambda shop: shop.merchant_id,
        work=reconcile,
        failure_event="order_facts_reconciliation_failed",
    )
    totals["failed"] += len(sweep.failed)
    return totals


async def backfill_order_facts(sessions: async_sessionmaker[AsyncSession], merchant_id: str) -> int:
    async with tenant_unit_of_work(sessions, merchant_id) as session:
        return await order_facts.backfill_from_ledger(session, merchant_id)


@job(timeout=3600)
async def backfill_order_facts_job(ctx: dict[str, Any]) -> dict[str, int]:
    """Once, after the deploy that brought order facts (enqueue it by name): every merchant's
    ledger earns become facts; run again, it adds nothing."""
    resources = job_resources(ctx)
    added = {"merchants": 0, "orders": 0}

    async def backfill(merchant_id: str) -> None:
        added["orders"] += await backfill_order_facts(resources.sessions, merchant_id)
        added["merchants"] += 1

    await for_each_merchant(
        resources.sessions,
        page=installed_merchants,
        merchant_id=lambda merchant_id: merchant_id,
        work=backfill,
        failure_event="order_facts_backfill_failed",
    )
    return added


async def create_campaign_of_suggestion(
    sessions: async_sessionmaker[AsyncSession], merchant_id: str, suggestion_id: str
) -> str | None:
    """The accepted suggestion's campaign, created once: the suggestion names it in the same
    transaction, and the campaign's idempotency key is the suggestion's, so a retry (a second
    job, a sweep) finds it made. None when the suggestion is not (or no longer) accepted."""
    async with tenant_unit_of_work(sessions, merchant_id) as session:
        found = await suggestions.suggestion(session, merchant_id, suggestion_id)
        if found is None or found.status != SuggestionStatus.ACCEPTED:
            return None
        if found.campaign_id is not None:
            return found.campaign_id
        proposal = found.proposal
        starts = found.decided_at or datetime.now(UTC)
        draft = CampaignDraft(
            name=proposal["name"],
            kind=CampaignKind.DOUBLE_POINTS,
            starts_at=starts,
            ends_at=starts + timedelta(days=int(proposal["days"])),
            multiplier=Decimal(proposal["multiplier"]),
            rfm_segments=(proposal["segment"],),
        )
        write = WriteContext(session, merchant_id, actor_id=found.decided_by)
        campaign = await create_campaign(
            write, draft, idempotency_key=f"suggestion:{suggestion_id}"
        )
        await suggestions.linked(session, merchant_id, suggestion_id, campaign.id)
    return campaign.id


@job(timeout=60, keep_result=0)
async def create_suggested_campaign(
    ctx: dict[str, Any], merchant_id: str, suggestion_id: str
) -> str | None:
    """arq job (``analytics.suggestions.service.CREATE_SUGGESTED_CAMPAIGN``), enqueued when a
    merchant accepts a suggestion."""
    made = await create_campaign_of_suggestion(
        job_resources(ctx).sessions, merchant_id, suggestion_id
    )
    log.info("suggested_campaign_created", suggestion_id=suggestion_id, campaign_id=made)
    return made


# Accepted suggestions whose job was lost (Redis away at the accept, a killed worker).
@job(timeout=600, cron=Cron(minute=frozenset(range(5, 60, 10))))
async def sweep_accepted_suggestions(ctx: dict[str, Any]) -> int:
    resources = job_resources(ctx)
    enqueued = 0

    async def sweep(merchant_id: str) -> None:
        nonlocal enqueued
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            waiting = await suggestions.awaiting_campaign(session, merchant_id)
        for suggestion_id in waiting:
            enqueued += await suggestions.enqueue_campaign_creation(
                resources.redis, merchant_id, suggestion_id
            )

    await for_each_merchant(
        resources.sessions,
        page=installed_merchants,
        merchant_id=lambda merchant_id: merchant_id,
        work=sweep,
        failure_event="suggestion_sweep_failed",
    )
    return enqueued
