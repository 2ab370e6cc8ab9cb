"""Points expiry, and the reminder customers get up to 30 days before their points expire.

Every function here works inside one transaction of the caller's and never commits; the jobs
(``expiry.jobs``) decide the transactions: one per customer for expiry, so one customer's
failure or lock wait holds back nobody else, and none across an HTTP call for reminders.
Everything takes ``now`` so the same code runs on the worker's clock and in tests. Expiring
points records through the ledger's write path like every other change of points.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import PROGRAM_SETTINGS_NOTIFICATION_API_KEY
from db.models import PointsTransactionKind
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.integrations.http_retries import DEFAULT_RETRY_POLICY, RetryPolicy
from subgraphs.kit.integrations.message_rendering import RenderedMessage, render_expiry_reminder
from subgraphs.kit.integrations.notifications import (
    KlaviyoClient,
    NotificationClient,
    NotificationError,
    PostscriptClient,
    Recipient,
)
from subgraphs.kit.repository import AuditTrail
from subgraphs.points.consents.service import ConsentType, revoked
from subgraphs.points.customers.repository import CustomerChange, CustomerRepository
from subgraphs.points.customers.service import customer_email, customer_phone
from subgraphs.points.expiry.repository import (
    FAILED,
    SENT,
    DueReminder,
    QueuedReminder,
    ReminderRepository,
)
from subgraphs.points.ledger.repository import LedgerRepository
from subgraphs.points.ledger.write_path import (
    LedgerDraft,
    LedgerEntry,
    LedgerWriter,
    applied,
    trace,
)
from subgraphs.points.notifications.message_types import MessageType
from subgraphs.points.notifications.repository import NotificationSettingsRepository
from subgraphs.points.program.calculation import TraceStep
from subgraphs.points.program.repository import ProgramRepository
from subgraphs.points.program.service import (
    ExpiryKind,
    ExpiryPolicy,
    NotificationProvider,
    program_config,
)

log = structlog.get_logger(__name__)

REMINDER_WINDOW = timedelta(days=30)
# A reminder still queued this long after its run started was left by a run that crashed
# between queueing and sending; the next run sends it.
ABANDONED_AFTER = timedelta(hours=1)
# Kept low: these are the merchant's own Klaviyo / Postscript rate limits we are spending.
SEND_CONCURRENCY = 4
MAX_ERROR_LENGTH = 500


# --- expiry ---------------------------------------------------------------------------------


async def customers_due_for_expiry(
    session: AsyncSession, merchant_id: str, *, now: datetime, limit: int
) -> list[str]:
    """Customers with points to expire under the merchant's policy (a batch of them)."""
    policy = (await program_config(session, merchant_id)).expiry
    if policy.kind is ExpiryKind.AFTER_EARNING:
        lots = await LedgerRepository(session, merchant_id).expired_lots(now, limit=limit)
        return list(dict.fromkeys(lot.customer_id for lot in lots))
    if policy.kind is ExpiryKind.INACTIVITY and policy.days is not None:
        inactive_since = now - timedelta(days=policy.days)
        return await CustomerRepository(session, merchant_id).inactive_with_points(
            inactive_since, limit=limit
        )
    return []


async def expire_customer(
    session: AsyncSession, merchant_id: str, customer_id: str, *, now: datetime
) -> LedgerEntry | None:
    """Expire what the policy says is due for one customer; None when nothing is."""
    # Read again in the customer's own transaction: a merchant who switched expiry off after
    # the batch was listed must not see their customers lose points.
    policy = (await program_config(session, merchant_id)).expiry
    if policy.kind is ExpiryKind.AFTER_EARNING:
        return await expire_customer_lots(session, merchant_id, customer_id, now=now)
    if policy.kind is ExpiryKind.INACTIVITY and policy.days is not None:
        return await expire_inactive_customer(
            session, merchant_id, customer_id, now=now, days=policy.days
        )
    return None


def _expiry_draft(
    key: str, reason: str, points: int, lots: Sequence[str], steps: Sequence[TraceStep]
) -> LedgerDraft:
    """Take ``points`` by emptying ``lots`` (every one of them: expiry takes what they hold)."""
    return LedgerDraft(
        kind=PointsTransactionKind.EXPIRE,
        points=-points,
        reason=reason,
        idempotency_key=key,
        source="expiry",
        explanation=trace(*steps),
        change=CustomerChange(),
        drain_lots=tuple(lots),
    )


async def expire_customer_lots(
    session: AsyncSession, merchant_id: str, customer_id: str, *, now: datetime
) -> LedgerEntry | None:
    """Expire the customer's lots whose date has passed; None when none hold points."""
    writer = LedgerWriter(session, merchant_id)
    customer = await writer.lock(customer_id)
    lots = await writer.ledger.expired_lots(now, customer_id=customer_id)
    total = sum(lot.remaining_points for lot in lots)
    if total == 0:
        return None
    steps = [
        applied(
            "expiry_after_earning",
            f"{lot.remaining_points} unspent points of {lot.transaction_id}"
            f" expired {lot.expires_at.isoformat() if lot.expires_at else ''}",
            -lot.remaining_points,
        )
        for lot in lots
    ]
    first = min(lot.transaction_id for lot in lots)
    lot_ids = [lot.transaction_id for lot in lots]
    draft = _expiry_draft(f"expire:{customer_id}:{first}", "points expired", total, lot_ids, steps)
    return await writer.record(customer, draft, lambda existing: True)


async def expire_inactive_customer(
    session: AsyncSession, merchant_id: str, customer_id: str, *, now: datetime, days: int
) -> LedgerEntry | None:
    """Expire the whole balance of a customer inactive for ``days``; None if they are not."""
    writer = LedgerWriter(session, merchant_id)
    customer = await writer.lock(customer_id)
    last_seen = customer.last_activity_at or customer.created_at
    balance = customer.points_balance
    if balance == 0 or last_seen > now - timedelta(days=days):
        return None
    lot_ids = sorted(await writer.ledger.open_lot_ids(customer_id))
    # Lots are drained once and credits open new ones: the first open lot names this expiry.
    key = f"expire:inactive:{customer_id}:{lot_ids[0] if lot_ids else 'none'}"
    step = applied(
        "expiry_inactivity",
        f"no activity since {last_seen.isoformat()}, more than {days} days",
        -balance,
    )
    draft = _expiry_draft(key, "points expired after inactivity", balance, lot_ids, [step])
    return await writer.record(customer, draft, lambda existing: True)


# --- reminders ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReminderSetup:
    provider: NotificationProvider
    api_key: str
    points_name: str
    policy: ExpiryPolicy


async def reminder_setup(
    session: AsyncSession, merchant_id: str, cipher: FieldCipher
) -> ReminderSetup | None:
    """How this merchant's reminders go out; None when they do not (no provider, points never
    expire, reminders switched off in the notification settings, or no API key)."""
    config = await program_config(session, merchant_id)
    if config.notifications is NotificationProvider.NONE or config.expiry.kind is ExpiryKind.NONE:
        return None
    settings = await NotificationSettingsRepository(session, merchant_id).settings()
    if settings is not None and MessageType.EXPIRY_REMINDER not in settings.message_types:
        return None
    encrypted = await ProgramRepository(session, merchant_id).notification_api_key()
    if encrypted is None:
        log.warning(
            "expiry_reminders_skipped",
            merchant_id=merchant_id,
            reason=f"{config.notifications.value} is selected but no API key is stored",
        )
        return None
    return ReminderSetup(
        provider=config.notifications,
        api_key=cipher.decrypt(encrypted, context=PROGRAM_SETTINGS_NOTIFICATION_API_KEY),
        points_name=config.points_name,
        policy=config.expiry,
    )


async def due_reminders(
    session: AsyncSession,
    merchant_id: str,
    policy: ExpiryPolicy,
    *,
    now: datetime,
    limit: int,
) -> list[DueReminder]:
    """Points expiring within the reminder window whose customer and day have no reminder
    yet: per lot expiry day (after earning) or the whole balance (inactivity); one day per
    customer, and none for a customer reminded in the past week."""
    if policy.kind is ExpiryKind.AFTER_EARNING:
        ledger = LedgerRepository(session, merchant_id)
        candidates = ledger.unspent_by_expiry_day(now, now + REMINDER_WINDOW)
    elif policy.kind is ExpiryKind.INACTIVITY and policy.days is not None:
        customers = CustomerRepository(session, merchant_id)
        candidates = customers.balances_expiring_after_inactivity(
            now, days=policy.days, window=REMINDER_WINDOW
        )
    else:
        return []
    return await ReminderRepository(session, merchant_id).not_reminded(
        candidates, limit=limit, now=now
    )


async def queue_reminders(
    session: AsyncSession,
    merchant_id: str,
    due: Sequence[DueReminder],
    *,
    provider: NotificationProvider,
    now: datetime,
) -> list[QueuedReminder]:
    """Record the reminders as queued; only the ones recorded now are returned, so a customer
    hears about one expiry day once however often (or concurrently) the job runs."""
    return await ReminderRepository(session, merchant_id).queue(
        due, channel=provider.value, now=now
    )


async def abandoned_reminders(
    session: AsyncSession, merchant_id: str, *, now: datetime, limit: int
) -> list[QueuedReminder]:
    return await ReminderRepository(session, merchant_id).reclaim_abandoned(
        queued_before=now - ABANDONED_AFTER,
        # Too late to warn about points that have already expired.
        expiring_after=now.astimezone(UTC).date(),
        now=now,
        limit=limit,
    )


async def recipients(
    session: AsyncSession,
    merchant_id: str,
    cipher: FieldCipher,
    customer_ids: Sequence[str],
    *,
    marketing: bool = True,
) -> dict[str, Recipient]:
    """Where to reach the customers, but for those erased and (``marketing``) those who
    revoked their newsletter consent."""
    customers = await CustomerRepository(session, merchant_id).customers_by_ids(customer_ids)
    # A reminder is marketing: a customer who revoked their newsletter consent gets none.
    declined = (
        await revoked(session, merchant_id, customer_ids, ConsentType.NEWSLETTER)
        if marketing
        else set()
    )
    return {
        customer.id: Recipient(
            email=customer_email(customer, cipher),
            phone=customer_phone(customer, cipher),
            locale=customer.locale,
            external_id=customer.id,
        )
        for customer in customers
        # A reminder queued before an erasure (and reclaimed after a crash) is not sent.
        if customer.redacted_at is None and customer.id not in declined
    }


def notification_client(
    provider: NotificationProvider,
    http: httpx.AsyncClient,
    api_key: str,
    *,
    retry: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> NotificationClient:
    if provider is NotificationProvider.KLAVIYO:
        return KlaviyoClient(http, api_key, retry=retry)
    if provider is NotificationProvider.POSTSCRIPT:
        return PostscriptClient(http, api_key, retry=retry)
    raise ValueError(f"no notification client for {provider.value!r}")


@dataclass(frozen=True, slots=True)
class Delivery:
    reminder: QueuedReminder
    locale: str | None
    # None when the provider accepted the reminder.
    error: str | None


async def deliver(
    client: NotificationClient,
    reminders: Sequence[QueuedReminder],
    recipients_by_customer: dict[str, Recipient],
    *,
    points_name: str,
    shop_name: str,
) -> list[Delivery]:
    """Send every reminder, a few at a time; each one's outcome, never an exception, so one
    bad address or provider error does not lose the outcomes of the others."""
    limit = asyncio.Semaphore(SEND_CONCURRENCY)

    async def send(reminder: QueuedReminder) -> Delivery:
        recipient = recipients_by_customer.get(reminder.customer_id)
        if recipient is None:
            return Delivery(reminder, None, "customer not found, redacted or without consent")
        message: RenderedMessage = render_expiry_reminder(
            recipient.locale,
            points=reminder.points,
            points_name=points_name,
            expires_on=reminder.expires_on,
            shop_name=shop_name,
        )
        try:
            async with limit:
                # The reminder's id is its event id: a resend after a crash is deduplicated.
                await client.send_expiry_reminder(
                    recipient,
                    message,
                    points=reminder.points,
                    expires_on=reminder.expires_on,
                    event_id=reminder.id,
                )
        except NotificationError as error:
            return Delivery(reminder, message.locale, str(error)[:MAX_ERROR_LENGTH])
        except Exception as error:
            # Recorded as failed rather than left queued: a queued row would be resent by a
            # later run, and an unexpected error is as likely to repeat as not.
            log.exception("expiry_reminder_error", reminder_id=reminder.id)
            return Delivery(reminder, message.locale, repr(error)[:MAX_ERROR_LENGTH])
        return Delivery(reminder, message.locale, None)

    return list(await asyncio.gather(*(send(reminder) for reminder in reminders)))


async def record_delivery(
    session: AsyncSession,
    merchant_id: str,
    delivery: Delivery,
    *,
    provider: NotificationProvider,
    now: datetime,
) -> None:
    reminder = delivery.reminder
    await ReminderRepository(session, merchant_id).mark(
        reminder.id,
        status=SENT if delivery.error is None else FAILED,
        error=delivery.error,
        now=now,
    )
    await AuditTrail(session, merchant_id).record(
        AuditAction.EXPIRY_NOTIFICATION_SENT
        if delivery.error is None
        else AuditAction.EXPIRY_NOTIFICATION_FAILED,
        {
            "customer_id": reminder.customer_id,
            "reminder_id": reminder.id,
            "points": reminder.points,
            "expires_on": reminder.expires_on.isoformat(),
            "provider": provider.value,
            "locale": delivery.locale,
            **({"error": delivery.error} if delivery.error is not None else {}),
        },
    )
