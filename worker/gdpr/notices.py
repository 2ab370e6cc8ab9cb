"""Telling of carried-out GDPR requests: the merchant once per request, the customer where
the message can still reach them.

The merchant: every completed request the shop has not been told of
(``gdpr_requests.merchant_notified_at`` is null) goes to the shop's Slack alert channel when
it has one (the referral program's alert webhook), then is marked told; the admin API shows
when (``GdprRequest.merchantNotifiedAt``), Slack or not. Rows are taken under a lock that
other workers skip and marked in the transaction that took them, so each is told once; a
Slack that cannot be reached leaves them for the next run (a day later they are marked
anyway: the admin API still says it), one that refuses the webhook marks them at once.

The customer: the GDPR_DONE message (``GDPR_DONE_FLOW``, run with the points program's flows)
for an access request or a CCPA opt-out, whatever their consents. An erasure's customer is
not written to: nothing left of them says where.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.models import GdprRequest
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.admin.gdpr.repository import (
    GdprRequestsRepository,
    merchants_with_unnotified_requests,
)
from subgraphs.admin.gdpr.service import GdprRequestType
from subgraphs.kit.integrations.alerts import AlertDeliveryError, SlackAlerter
from subgraphs.kit.integrations.http_retries import DEFAULT_RETRY_POLICY, RetryPolicy
from subgraphs.kit.resources import Resources
from subgraphs.points.notifications.flows import Flow, FlowEvent, FlowPage, Position, page_of
from subgraphs.points.notifications.message_types import MessageType
from subgraphs.referrals.program.service import alert_webhook

log = structlog.get_logger(__name__)

NOTICE_BATCH = 50
# A Slack down this long: the request is marked told (the admin API shows it) and left.
GIVE_UP_AFTER = timedelta(days=1)
TOLD_CUSTOMER = (GdprRequestType.DATA_REQUEST.value, GdprRequestType.CCPA_OPT_OUT.value)
_WHAT = {
    GdprRequestType.DATA_REQUEST.value: "a customer data request (its export is ready)",
    GdprRequestType.CUSTOMER_REDACT.value: "a customer erasure",
    GdprRequestType.SHOP_REDACT.value: "the shop's erasure",
    GdprRequestType.CCPA_OPT_OUT.value: "a CCPA opt-out",
}


async def _gdpr_done(
    session: AsyncSession, merchant_id: str, cipher: FieldCipher, after: Position, limit: int
) -> FlowPage:
    rows = await GdprRequestsRepository(session, merchant_id).completed_after(
        after, TOLD_CUSTOMER, limit
    )
    events = [
        FlowEvent(row.id, row.customer_id, row.completed_at, {"request_type": row.request_type})
        for row in rows
        if row.customer_id is not None and row.completed_at is not None
    ]
    return page_of(events, [(row.completed_at, row.id) for row in rows if row.completed_at], limit)


GDPR_DONE_FLOW = Flow(MessageType.GDPR_DONE, _gdpr_done)


def notice_text(requests: list[GdprRequest]) -> str:
    """The Slack message: what was done and when, never whom (no personal data)."""
    lines = [
        f"- {_WHAT.get(row.request_type, row.request_type)}, completed "
        f"{row.completed_at:%Y-%m-%d %H:%M} UTC"
        for row in requests
        if row.completed_at is not None
    ]
    return "LoyalNest carried out privacy requests for your shop:\n" + "\n".join(lines)


@dataclass
class NoticeSummary:
    merchants: int = 0
    requests: int = 0
    slack_messages: int = 0


async def notify_merchants(
    resources: Resources,
    http: httpx.AsyncClient,
    *,
    now: datetime,
    retry: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> NoticeSummary:
    """Tell every merchant of their completed requests not told yet."""
    summary = NoticeSummary()
    async with system_unit_of_work(resources.sessions) as session:
        merchant_ids = await merchants_with_unnotified_requests(session)
    for merchant_id in merchant_ids:
        try:
            await _notify_merchant(resources, http, merchant_id, now, retry, summary)
        except Exception:
            log.exception("gdpr_notice_failed", merchant_id=merchant_id)
        else:
            summary.merchants += 1
    return summary


async def _notify_merchant(
    resources: Resources,
    http: httpx.AsyncClient,
    merchant_id: str,
    now: datetime,
    retry: RetryPolicy,
    summary: NoticeSummary,
) -> None:
    while True:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            repository = GdprRequestsRepository(session, merchant_id)
            requests = await repository.unnotified(NOTICE_BATCH)
            if not requests:
                return
            url = await alert_webhook(session, merchant_id, resources.cipher)
            if url is not None:
                try:
                    await SlackAlerter(http, url, retry=retry).send(notice_text(requests))
                    summary.slack_messages += 1
                except AlertDeliveryError as error:
                    log.warning("gdpr_notice_not_sent", merchant_id=merchant_id, error=str(error))
                    if error.retryable:
                        requests = [
                            row
                            for row in requests
                            if row.completed_at is not None
                            and row.completed_at <= now - GIVE_UP_AFTER
                        ]
            await repository.mark_notified([row.id for row in requests], now)
            summary.requests += len(requests)
        if len(requests) < NOTICE_BATCH:
            return
