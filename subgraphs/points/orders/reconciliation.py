"""Reconciliation: read a shop's recent orders back from the Admin API and apply what no
webhook delivered — an order that never earned, a cancellation that never reversed.

It uses the webhook path's business keys (``order:{id}:earn``, ``order:{id}:cancel``), so
whichever of the two gets there first applies an event and the other finds it done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.crypto import FieldCipher
from db.models import PointsTransactionKind
from db.session import tenant_unit_of_work
from subgraphs.kit.integrations.shopify_admin import ShopifyAdminClient
from subgraphs.kit.integrations.shopify_operations import ShopifyOrder
from subgraphs.points.ledger.repository import LedgerRepository
from subgraphs.points.orders.reversal import ReverseCommand, reverse_order
from subgraphs.points.orders.service import Outcome, award_reconciled_order
from subgraphs.points.orders.shopify_payloads import channel_of
from subgraphs.points.program.calculation import Order, OrderLine

log = structlog.get_logger(__name__)

_PAID = frozenset({"PAID", "PARTIALLY_REFUNDED", "REFUNDED", "PARTIALLY_PAID"})


@dataclass
class ReconciliationReport:
    orders_read: int = 0
    awarded: list[str] = field(default_factory=list)
    reversed: list[str] = field(default_factory=list)
    # Orders with more line items than one page carries: their points cannot be computed
    # line by line from this read, so they are left to the webhooks (and logged).
    skipped_incomplete: list[str] = field(default_factory=list)


def _legacy_id(gid: str) -> str:
    """Webhooks name line items by number; the GraphQL API by gid://shopify/LineItem/<n>."""
    return gid.rsplit("/", 1)[-1]


def order_from_admin_api(order: ShopifyOrder) -> Order:
    lines = []
    currency = order.subtotal.currency_code if order.subtotal else None
    for item in order.line_items:
        total = item.discounted_total or item.original_total
        if total is None:
            continue
        currency = currency or total.currency_code
        lines.append(OrderLine(_legacy_id(item.id), item.quantity, total.amount))
    return Order(
        order_id=str(order.legacy_id),
        currency=currency or "USD",
        lines=tuple(lines),
        channel=channel_of(order.source_name),
        placed_at=order.created_at,
    )


async def _apply(
    session: AsyncSession,
    merchant_id: str,
    cipher: FieldCipher,
    order: ShopifyOrder,
    report: ReconciliationReport,
    now: datetime,
) -> None:
    order_id = str(order.legacy_id)
    if order.cancelled_at is None:
        result = await award_reconciled_order(
            session,
            merchant_id,
            cipher,
            order_from_admin_api(order),
            shopify_customer_id=str(order.customer.legacy_id) if order.customer else None,
            email=order.email,
            paid=(order.financial_status or "").upper() in _PAID,
            now=now,
        )
        if result.outcome is Outcome.APPLIED:
            report.awarded.append(order_id)
        return
    earned = await LedgerRepository(session, merchant_id).orders_with(
        [order_id], PointsTransactionKind.EARN
    )
    if not earned:
        return
    entry = await reverse_order(
        session,
        merchant_id,
        ReverseCommand(order_id, f"order:{order_id}:cancel", reason="order cancelled"),
        now=now,
    )
    if not entry.replayed:
        report.reversed.append(order_id)


async def reconcile_shop(
    sessions: async_sessionmaker[AsyncSession],
    cipher: FieldCipher,
    merchant_id: str,
    client: ShopifyAdminClient,
    *,
    since: datetime,
    now: datetime,
) -> ReconciliationReport:
    """One transaction per order applied, so one bad order never holds back the rest."""
    report = ReconciliationReport()
    after: str | None = None
    while True:
        page = await client.orders_since(since, after=after)
        report.orders_read += len(page.orders)
        order_ids = [str(order.legacy_id) for order in page.orders]
        async with tenant_unit_of_work(sessions, merchant_id) as session:
            earned = await LedgerRepository(session, merchant_id).orders_with(
                order_ids, PointsTransactionKind.EARN
            )
        for order in page.orders:
            order_id = str(order.legacy_id)
            needs_award = order.cancelled_at is None and order_id not in earned
            # A cancellation already applied replays under its key and changes nothing.
            needs_reversal = order.cancelled_at is not None and order_id in earned
            if not needs_award and not needs_reversal:
                continue
            if needs_award and not order.line_items_complete:
                report.skipped_incomplete.append(order_id)
                continue
            async with tenant_unit_of_work(sessions, merchant_id) as session:
                await _apply(session, merchant_id, cipher, order, report, now)
        if not page.has_next_page:
            return report
        after = page.end_cursor
