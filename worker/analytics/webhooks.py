"""Analytics' part of Shopify's order webhooks, run by the worker after the points (and
referral) handlers of the same delivery, in the same transaction: the order is recorded as a
fact (``analytics.orders``) and its customer's RFM scores and segment are computed again
(``analytics.rfm``), so the segment the next earn reads includes this order.

Points has enrolled the order's customer by then, so the fact names them. A payload analytics
cannot read never fails a delivery (the points already earned must stand): it is noted in the
delivery's outcome instead. Recording is idempotent, so a replayed delivery changes nothing
twice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.analytics.orders import service as order_facts
from subgraphs.analytics.orders.service import OrderPayloadError
from subgraphs.analytics.rfm import service as rfm


@dataclass(frozen=True, slots=True)
class AnalyticsContext:
    session: AsyncSession
    merchant_id: str
    now: datetime


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
) -> str:
    try:
        fact = await order_facts.record_order_payload(
            context.session, context.merchant_id, payload, paid_now=paid_now
        )
    except OrderPayloadError as error:
        return f"order fact not recorded: {error}"
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
