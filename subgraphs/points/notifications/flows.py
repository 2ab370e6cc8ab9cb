"""Messages sent when their event happens (points earned, a reward redeemed, a tier reached, a
referral paid, a privacy request carried out), read from what the event committed.

Nothing is queued on a write path: the event is already in Postgres (its audit entry, which
commits with the change it records; a GDPR request's row), and each flow reads a merchant's
events after its cursor (``notification_cursors``). After a commit the worker is nudged to run
the merchant's flows (``kit.jobs.nudge_notification_flows``), and a sweep runs them every few
minutes anyway, so a lost nudge or a crashed worker delays a message and never loses it.

Exactly one message per event: the event's id is the delivery log's key and the provider's
dedupe key (Klaviyo's ``unique_id``), so a run repeated after a crash, or two runs reading the
same events, send the same message once (``sending.notify_customer`` skips one already sent).
A message the provider could not take (5xx, 429, timeouts, after the HTTP retries) is tried
again by later runs, after a backoff, ``MAX_ATTEMPTS`` times in all; the cursor waits behind
it. The cursor also waits behind an event not ready to tell (a redemption whose code Shopify
has not confirmed yet).

Readers look ``OVERLAP`` behind the cursor, because rows carry their transaction's start time
and one that commits late lands behind rows read already; they never read further back than
``LOOKBACK``, nor before a message type was switched on, so switching one on (or a provider
after none) sends no backlog. What is not read at all cannot flood: imports and campaigns'
bulk credits write no per-entry audit, and tiers moved by a merchant's rule change or the
nightly recalculation are not the customer's doing (see ``events.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.models import NotificationDelivery
from subgraphs.kit.integrations.http_retries import DEFAULT_RETRY_POLICY, RetryPolicy
from subgraphs.points.notifications.message_types import MessageType, enabled_since
from subgraphs.points.notifications.repository import (
    DeliveryRepository,
    NotificationCursorRepository,
    NotificationSettingsRepository,
)
from subgraphs.points.notifications.sending import CustomerMessage, notify_customer, send_setup
from subgraphs.points.notifications.service import DeliveryStatus, UnitOfWork
from subgraphs.points.orders.repository import shop_connection

OVERLAP = timedelta(minutes=10)
# Past this, a message is no longer news (and a merchant back after a long outage is not
# flooded with it).
LOOKBACK = timedelta(days=3)
MAX_ATTEMPTS = 3
# Before the 2nd try, then doubling.
RETRY_AFTER = timedelta(minutes=1)
PAGE = 200
# ``sending.send``'s reason for a provider that stayed unwell: the one failure worth retrying.
RETRYABLE_REASON = "unavailable"

Position = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class FlowEvent:
    """One event to tell a customer about; ``event_id`` is the message's dedupe key."""

    event_id: str
    customer_id: str
    at: datetime
    values: Mapping[str, str] = field(default_factory=dict)
    # Not to be told yet (read again by the next run, the cursor waits for it).
    waiting: bool = False


@dataclass(frozen=True, slots=True)
class FlowPage:
    """Events found in one page of rows read: ``last`` is the position of the last row read
    (rows that are no event of the flow count too), ``more`` whether a full page was read."""

    events: list[FlowEvent]
    last: Position | None
    more: bool


ReadEvents = Callable[[AsyncSession, str, FieldCipher, Position, int], Awaitable[FlowPage]]


@dataclass(frozen=True, slots=True)
class Flow:
    message_type: MessageType
    read: ReadEvents


@dataclass
class FlowsSummary:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    waiting: int = 0

    def count(self, status: DeliveryStatus) -> None:
        if status is DeliveryStatus.SENT:
            self.sent += 1
        elif status is DeliveryStatus.SKIPPED:
            self.skipped += 1
        else:
            self.failed += 1


def page_of(events: list[FlowEvent], positions: Sequence[Position], limit: int) -> FlowPage:
    """The page of a reader that read ``positions`` (every row, in order) and found ``events``."""
    return FlowPage(events, positions[-1] if positions else None, len(positions) >= limit)


def _settled(delivery: NotificationDelivery) -> bool:
    """Whether the event needs no further try: sent, skipped on purpose, refused for good,
    or out of tries."""
    return (
        delivery.status != DeliveryStatus.FAILED.value
        or delivery.reason != RETRYABLE_REASON
        or delivery.attempts >= MAX_ATTEMPTS
    )


def _retry_due(delivery: NotificationDelivery, now: datetime) -> bool:
    return now >= delivery.created_at + RETRY_AFTER * (1 << (delivery.attempts - 1))


@dataclass(frozen=True, slots=True)
class _Run:
    sessions: UnitOfWork
    merchant_id: str
    cipher: FieldCipher
    now: datetime
    shop_name: str
    http: httpx.AsyncClient | None
    retry: RetryPolicy
    summary: FlowsSummary


async def _read_page(
    session: AsyncSession, merchant_id: str, cipher: FieldCipher, flow: Flow, after: Position
) -> tuple[FlowPage, dict[str, NotificationDelivery]]:
    """A page of the flow's events and their log rows."""
    page = await flow.read(session, merchant_id, cipher, after, PAGE)
    log = await DeliveryRepository(session, merchant_id).deliveries_of(
        flow.message_type.value, [event.event_id for event in page.events]
    )
    return page, log


async def run_flows(
    sessions: UnitOfWork,
    merchant_id: str,
    cipher: FieldCipher,
    flows: Sequence[Flow],
    *,
    now: datetime,
    http: httpx.AsyncClient | None = None,
    retry: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> FlowsSummary:
    """Send every message the merchant's enabled flows owe, and move their cursors. A
    merchant with nothing new costs one transaction of reads (every flow's first page) and
    no write: a cursor stays where it is while nothing is read after it."""
    summary = FlowsSummary()
    async with sessions() as session:
        if await send_setup(session, merchant_id, cipher) is None:
            return summary
        settings = await NotificationSettingsRepository(session, merchant_id).settings()
        if settings is None:
            return summary
        positions = await NotificationCursorRepository(session, merchant_id).positions()
        shop = await shop_connection(session, merchant_id)
        enabled = enabled_since(settings.message_types)
        first_pages = {}
        for flow in flows:
            since = enabled.get(flow.message_type)
            if since is None:
                continue
            start = max(since, now - LOOKBACK)
            stored = positions.get(flow.message_type.value)
            if stored is not None:
                start = max(start, stored - OVERLAP)
            first_pages[flow.message_type] = await _read_page(
                session, merchant_id, cipher, flow, (start, "")
            )
    run = _Run(sessions, merchant_id, cipher, now, shop.shop_domain, http, retry, summary)
    for flow in flows:
        first = first_pages.get(flow.message_type)
        if first is None or first[0].last is None:
            continue
        held = await _run_flow(run, flow, *first)
        async with sessions() as session:
            await NotificationCursorRepository(session, merchant_id).move(
                flow.message_type.value, now if held is None else held
            )
    return summary


async def _run_flow(
    run: _Run, flow: Flow, page: FlowPage, log: dict[str, NotificationDelivery]
) -> datetime | None:
    """Send what the flow owes from its first ``page`` on; the time of the oldest event still
    owed (where the cursor must wait), if any."""
    held: datetime | None = None
    kind = flow.message_type
    while True:
        for event in page.events:
            earlier = log.get(event.event_id)
            if earlier is not None and _settled(earlier):
                continue
            if event.waiting or (earlier is not None and not _retry_due(earlier, run.now)):
                run.summary.waiting += 1
                held = held or event.at
                continue
            delivery = await notify_customer(
                run.sessions,
                run.merchant_id,
                run.cipher,
                CustomerMessage(
                    kind,
                    event.event_id,
                    event.customer_id,
                    {"shop_name": run.shop_name, **event.values},
                ),
                now=run.now,
                http=run.http,
                retry=run.retry,
            )
            if delivery is None:  # notifications switched off meanwhile
                return held
            run.summary.count(DeliveryStatus(delivery.status))
            if not _settled(delivery):
                held = held or event.at
        if not page.more or page.last is None:
            return held
        async with run.sessions() as session:
            page, log = await _read_page(session, run.merchant_id, run.cipher, flow, page.last)
