"""Analytics' part of Shopify's order webhooks, run by the worker after the points (and
referral) handlers of the same delivery, in the same transaction: the order is recorded as a
fact (``analytics.orders``) and its customer's RFM scores and segment are computed again
(``analytics.rfm``), so the segment the next earn reads includes this order.

Points has enrolled the order's customer by then, so the fact names them. A payload analytics
cannot read never fails a delivery (the points already earned must stand): it is noted in the
delivery's outcome instead. Recording is idempotent, so a replayed delivery changes nothing
twice.

In a batch of deliveries (``worker.webhooks.processing``) the order facts wait in an
``OrderFactsBatch`` and are recorded, and their buyers rescored, in two statements for the lot
instead of two per order (the rescore was the costliest statement of an order). What later
deliveries of the batch read is kept as it would be one delivery at a time: a delivery for a
buyer whose fact waits, or of a topic that is not an order's (a refund adds to its order's
fact), has the waiting facts recorded first, so an earn always reads its customer's segment
with their earlier orders in it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.analytics.orders import service as order_facts
from subgraphs.analytics.orders.service import OrderFact, OrderPayloadError
from subgraphs.analytics.rfm import service as rfm
from subgraphs.kit.auth_repository import remembered_shopify_customer

# The topics whose analytics step is an order fact (``after_order``, ``after_order_paid``).
ORDER_FACT_TOPICS = frozenset(
    {"orders/create", "orders/updated", "orders/paid", "orders/cancelled"}
)


class OrderFactsBatch:
    """The order facts of a batch's deliveries, recorded together (module docstring)."""

    def __init__(self, session: AsyncSession, merchant_id: str) -> None:
        self._session = session
        self._merchant_id = merchant_id
        self._waiting: dict[str, OrderFact] = {}  # by delivery id
        self._buyers: set[str] = set()
        # What each delivery's analytics step did, once its fact is recorded.
        self.notes: dict[str, str] = {}

    async def make_way_for(self, topic: str, shopify_customer_id: str | None) -> None:
        """Before a delivery: record what waits if the delivery could read it."""
        if not self._waiting:
            return
        buyer = (
            remembered_shopify_customer(self._session, self._merchant_id, shopify_customer_id)
            if shopify_customer_id is not None
            else None
        )
        if topic not in ORDER_FACT_TOPICS or buyer in self._buyers:
            await self.record()

    def wait(self, delivery_id: str, fact: OrderFact) -> None:
        self._waiting[delivery_id] = fact
        if fact.customer_id is not None:
            self._buyers.add(fact.customer_id)

    async def record(self) -> None:
        """The waiting facts in one round trip (in turn: the same order twice, created then
        paid, ends as the second says), then their buyers rescored in one statement."""
        if not self._waiting:
            return
        await order_facts.record_webhook_facts(
            self._session, self._merchant_id, list(self._waiting.values())
        )
        moved: frozenset[str] = frozenset()
        if self._buyers:
            # Scored as of now, as one delivery at a time is: a buyer scored twice in a batch
            # gets two history rows, not one overwritten.
            scored = await rfm.recompute(
                self._session,
                self._merchant_id,
                now=datetime.now(UTC),
                customer_ids=sorted(self._buyers),
            )
            moved = scored.moved
        for delivery_id, fact in self._waiting.items():
            changed = fact.customer_id is not None and fact.customer_id in moved
            self.notes[delivery_id] = _fact_note(changed)
        self._waiting.clear()
        self._buyers.clear()


@dataclass(frozen=True, slots=True)
class AnalyticsContext:
    session: AsyncSession
    merchant_id: str
    now: datetime
    delivery_id: str = ""
    # In a batch: where the delivery's order fact waits (None: recorded at once).
    batch: OrderFactsBatch | None = None


def _fact_note(rescored: bool) -> str:
    return "order fact recorded" + ("; RFM segment changed" if rescored else "")


async def _rescored(context: AnalyticsContext, customer_id: str | None) -> str:
    """The customer's RFM scores again, this order included (one statement, one customer)."""
    if customer_id is None:
        return ""
    result = await rfm.recompute(
        context.session, context.merchant_id, now=context.now, customer_id=customer_id
    )
    return "; RFM segment changed" if result.changed or result.cleared else ""


async def after_order(context: AnalyticsContext, payload: Mapping[str, Any]) -> str | None:
    """orders/create, orders/updated, orders/cancelled: the order as Shopify has it now."""
    return await _record(context, payload, paid_now=None)


async def after_order_paid(context: AnalyticsContext, payload: Mapping[str, Any]) -> str | None:
    return await _record(context, payload, paid_now=context.now)


async def _record(
    context: AnalyticsContext, payload: Mapping[str, Any], *, paid_now: datetime | None
) -> str | None:
    """The note of the delivery's outcome; None when the fact waits in the batch (its note
    is in ``batch.notes`` once recorded)."""
    try:
        fact = await order_facts.order_fact_of_payload(
            context.session, context.merchant_id, payload, paid_now=paid_now
        )
    except OrderPayloadError as error:
        return f"order fact not recorded: {error}"
    if context.batch is not None:
        context.batch.wait(context.delivery_id, fact)
        return None
    await order_facts.record_webhook_facts(context.session, context.merchant_id, [fact])
    return f"order fact recorded{await _rescored(context, fact.customer_id)}"


async def after_refund(context: AnalyticsContext, payload: Mapping[str, Any]) -> str | None:
    try:
        recorded, customer_id = await order_facts.record_refund_payload(
            context.session, context.merchant_id, payload
        )
    except OrderPayloadError as error:
        return f"refund not recorded in order facts: {error}"
    if not recorded:
        # Reconciliation records the order; its refunds come with the next delivery of it.
        return "refund not in order facts: the order is not recorded"
    return f"refund recorded in order facts{await _rescored(context, customer_id)}"
