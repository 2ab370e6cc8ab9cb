"""Which Shopify topics LoyalNest takes, and the domain handler each one runs.

A handler runs in the worker, inside the transaction that marks its delivery done, so its
effects and the "done" commit together or not at all. Handlers are idempotent by business
key, which makes a redelivery (or a delivery processed again after a crash) harmless.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.admin.gdpr import export, redaction
from subgraphs.admin.gdpr.export_runs import enqueue_export_after_commit
from subgraphs.admin.gdpr.profile_deletions import enqueue_profile_deletions_after_commit
from subgraphs.admin.gdpr.service import GdprDelivery
from subgraphs.admin.merchants.service import record_uninstall
from subgraphs.kit.resources import Resources
from subgraphs.kit.validation import string_refusal
from subgraphs.points.orders import service as order_events
from subgraphs.points.orders.service import EventResult, OrderTrigger, Outcome
from subgraphs.points.orders.shopify_payloads import ShopifyOrderPayload, parse
from worker.analytics import webhooks as analytics
from worker.analytics.webhooks import AnalyticsContext, OrderFactsBatch
from worker.referrals import webhooks as referrals
from worker.referrals.webhooks import ReferralContext


@dataclass(frozen=True, slots=True)
class HandlerContext:
    session: AsyncSession
    resources: Resources
    merchant_id: str
    delivery_id: str
    now: datetime
    # In a batch: where the delivery's order fact waits to be recorded with the others'.
    order_facts: OrderFactsBatch | None = None


Handler = Callable[[HandlerContext, Mapping[str, Any]], Awaitable[EventResult]]


def _order_placed(trigger: OrderTrigger) -> Handler:
    async def handle(context: HandlerContext, payload: Mapping[str, Any]) -> EventResult:
        return await order_events.award_order(
            context.session,
            context.merchant_id,
            context.resources.cipher,
            parse(ShopifyOrderPayload, payload),
            trigger=trigger,
            now=context.now,
        )

    return handle


async def _order_cancelled(context: HandlerContext, payload: Mapping[str, Any]) -> EventResult:
    return await order_events.cancel_order(
        context.session, context.merchant_id, payload, now=context.now
    )


async def _refund_created(context: HandlerContext, payload: Mapping[str, Any]) -> EventResult:
    return await order_events.refund_order(
        context.session, context.merchant_id, payload, now=context.now
    )


async def _order_updated(context: HandlerContext, payload: Mapping[str, Any]) -> EventResult:
    # Points earn on create / paid and reverse on cancellation or refund; an edit alone
    # changes no points (its new totals reach analytics' order facts below).
    return EventResult(Outcome.NOT_APPLICABLE, "order updated: no points change")


async def _customer_created(context: HandlerContext, payload: Mapping[str, Any]) -> EventResult:
    return await order_events.customer_created(
        context.session, context.merchant_id, context.resources.cipher, payload, now=context.now
    )


async def _customer_updated(context: HandlerContext, payload: Mapping[str, Any]) -> EventResult:
    return await order_events.customer_updated(
        context.session, context.merchant_id, context.resources.cipher, payload
    )


async def _app_uninstalled(context: HandlerContext, payload: Mapping[str, Any]) -> EventResult:
    await record_uninstall(context.session, context.merchant_id, now=context.now)
    return EventResult(Outcome.APPLIED, "uninstalled; data kept until shop/redact")


def _gdpr(context: HandlerContext) -> GdprDelivery:
    return GdprDelivery(
        context.session,
        context.resources.cipher,
        context.merchant_id,
        context.delivery_id,
        context.now,
    )


async def _data_request(context: HandlerContext, payload: Mapping[str, Any]) -> EventResult:
    request = await export.handle_customer_data_request(_gdpr(context), payload)
    # The export job builds it (and tells the customer's flows) once this commits.
    enqueue_export_after_commit(context.session, context.resources, request)
    return EventResult(Outcome.APPLIED, f"data request {request.id} accepted")


async def _customer_redact(context: HandlerContext, payload: Mapping[str, Any]) -> EventResult:
    request = await redaction.handle_customer_redact(_gdpr(context), payload)
    # The customer's Klaviyo profile is deleted by a worker job, once this commits.
    enqueue_profile_deletions_after_commit(context.session, context.resources, request)
    # Cached reads may quote the customer; retire them with the ledger's generation.
    return EventResult(Outcome.APPLIED, f"customer redacted ({request.id})", ledger_changed=True)


async def _shop_redact(context: HandlerContext, payload: Mapping[str, Any]) -> EventResult:
    await redaction.handle_shop_redact(_gdpr(context), payload)
    return EventResult(Outcome.APPLIED, "shop data erased", ledger_changed=True)


ReferralHook = Callable[[ReferralContext, Mapping[str, Any]], Awaitable[str | None]]


def _and_referrals(handler: Handler, hook: ReferralHook) -> Handler:
    """``handler``, then the referral program's part of the same delivery, in the same
    transaction; what the referral step did is added to the delivery's outcome."""

    async def handle(context: HandlerContext, payload: Mapping[str, Any]) -> EventResult:
        result = await handler(context, payload)
        referral = ReferralContext(
            context.session,
            context.resources.cipher,
            context.merchant_id,
            context.now,
            context.resources.pubsub,
        )
        note = await hook(referral, payload)
        if note is None:
            return result
        return replace(result, detail=f"{result.detail}; {note}")

    return handle


AnalyticsHook = Callable[[AnalyticsContext, Mapping[str, Any]], Awaitable[str | None]]


def _and_analytics(handler: Handler, hook: AnalyticsHook) -> Handler:
    """``handler`` (points and referrals), then analytics' part of the same delivery, in the
    same transaction: the order fact and its customer's RFM segment."""

    async def handle(context: HandlerContext, payload: Mapping[str, Any]) -> EventResult:
        result = await handler(context, payload)
        analytics_context = AnalyticsContext(
            context.session,
            context.merchant_id,
            context.now,
            context.delivery_id,
            context.order_facts,
        )
        note = await hook(analytics_context, payload)
        return result if note is None else replace(result, detail=f"{result.detail}; {note}")

    return handle


HANDLERS: dict[str, Handler] = {
    "orders/create": _and_analytics(_order_placed(OrderTrigger.CREATED), analytics.after_order),
    "orders/updated": _and_analytics(_order_updated, analytics.after_order),
    "orders/paid": _and_analytics(
        _and_referrals(_order_placed(OrderTrigger.PAID), referrals.after_order_paid),
        analytics.after_order_paid,
    ),
    "orders/cancelled": _and_analytics(
        _and_referrals(_order_cancelled, referrals.after_order_cancelled), analytics.after_order
    ),
    "refunds/create": _and_analytics(
        _and_referrals(_refund_created, referrals.after_refund), analytics.after_refund
    ),
    "customers/create": _and_referrals(_customer_created, referrals.after_signup),
    "customers/update": _customer_updated,
    "app/uninstalled": _app_uninstalled,
    "customers/data_request": _data_request,
    "customers/redact": _customer_redact,
    "shop/redact": _shop_redact,
}
SUPPORTED_TOPICS = frozenset(HANDLERS)
# Shopify may still send these for a shop we have already erased: there is nothing to do.
ERASURE_TOPICS = frozenset({"customers/redact", "shop/redact"})


def payload_from_json(body: bytes | str) -> Any:
    """A webhook body as JSON. orjson refuses an escaped lone surrogate ("\\ud800"), which
    JSON's grammar allows: such a body is still JSON, so it is read by the standard library
    instead, stored like any other, and refused by the worker with its reason. Raises
    ValueError only for what is not JSON at all (or not UTF-8)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return json.loads(text)


# A Shopify customer id as the inbox column keeps it: a number, or a gid. Bounded, so the
# shim never writes into Postgres what it cannot hold (a NUL made it answer 500).
_MAX_CUSTOMER_ID_CHARS = 100


def customer_of(topic: str, payload: Mapping[str, Any]) -> str | None:
    """The Shopify customer a delivery is about, so customers/redact can find it; None when
    there is none, or when what the payload says is no id at all (then the delivery is still
    stored, and the worker refuses the payload with its reason)."""
    subject: object = payload if topic.startswith("customers/") else payload.get("customer")
    if topic in ("customers/data_request", "customers/redact"):
        subject = payload.get("customer")
    if not isinstance(subject, Mapping):
        return None
    value = subject.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value)
    if not 0 < len(text) <= _MAX_CUSTOMER_ID_CHARS or string_refusal(text) is not None:
        return None
    return text
