"""Points expiry, and the reminder customers get up to 30 days before their points expire.

Every function here works inside one transaction of the caller's and never commits; the jobs
(``subgraphs.points.jobs``) decide the transactions: one per customer for expiry, so one
customer's failure or lock wait holds back nobody else, and none across an HTTP call for
reminders. Everything takes ``now`` so the same code runs on the worker's clock and in tests.
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
from subgraphs.kit.integrations.http_retries import DEFAULT_RETRY_POLICY, RetryPolicy
from subgraphs.kit.integrations.notifications import (
    KlaviyoClient,
    NotificationClient,
    NotificationError,
    PostscriptClient,
    Recipient,
    RenderedMessage,
    render_expiry_reminder,
)
from subgraphs.kit.repository import insert_audit_log
from subgraphs.points.repository.customers import CustomerRepository
from subgraphs.points.repository.ledger import LedgerRepository
from subgraphs.points.repository.program import ProgramRepository
from subgraphs.points.repository.reminders import (
    FAILED,
    SENT,
    DueReminder,
    QueuedReminder,
    ReminderRepository,
)
from subgraphs.points.service.customers import customer_email, customer_phone
from subgraphs.points.service.ledger import (
    LedgerEntry,
    customers_with_expired_lots,
    expire_customer_lots,
    expire_inactive_customer,
)
from subgraphs.points.service.program import (
    ExpiryKind,
    ExpiryPolicy,
    NotificationProvider,
    program_config,
)

log = structlog.get_logger(__name__)

REMINDER_WINDOW = timedelta(days=30)
NOTIFICATION_KEY_CONTEXT = "program_settings.notification_api_key"
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
        return await customers_with_expired_lots(session, merchant_id, now=now, limit=limit)
    if policy.kind is ExpiryKind.INACTIVITY and policy.days is not None:
        inactive_since = now - timedelta(days=policy.days)
        return await LedgerRepository(session, merchant_id).inactive_customers(
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
    expire, or no API key to call the provider with)."""
    config = await program_config(session, merchant_id)
    if config.notifications is NotificationProvider.NONE or config.expiry.kind is ExpiryKind.NONE:
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
        api_key=cipher.decrypt(encrypted, context=NOTIFICATION_KEY_CONTEXT),
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
    yet: per lot expiry day (after earning) or the whole balance (inactivity)."""
    repository = ReminderRepository(session, merchant_id)
    if policy.kind is ExpiryKind.AFTER_EARNING:
        return await repository.lots_due(now, now + REMINDER_WINDOW, limit=limit)
    if policy.kind is ExpiryKind.INACTIVITY and policy.days is not None:
        return await repository.inactivity_due(
            now, days=policy.days, window=REMINDER_WINDOW, limit=limit
        )
    return []


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
    session: AsyncSession, merchant_id: str, cipher: FieldCipher, customer_ids: Sequence[str]
) -> dict[str, Recipient]:
    customers = await CustomerRepository(session, merchant_id).customers_by_ids(customer_ids)
    return {
        customer.id: Recipient(
            email=customer_email(customer, cipher),
            phone=customer_phone(customer, cipher),
            locale=customer.locale,
            external_id=customer.id,
        )
        for customer in customers
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
            return Delivery(reminder, None, "customer not found")
        message: RenderedMessage = render_expiry_reminder(
            recipient.locale,
            points=reminder.points,
            points_name=points_name,
            expires_on=reminder.expires_on,
            shop_name=shop_name,
        )
        try:
            async with limit:
                await client.send_expiry_reminder(
                    recipient, message, points=reminder.points, expires_on=reminder.expires_on
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
    await insert_audit_log(
        session,
        merchant_id=merchant_id,
        action="expiry_notification_sent"
        if delivery.error is None
        else "expiry_notification_failed",
        metadata={
            "customer_id": reminder.customer_id,
            "reminder_id": reminder.id,
            "points": reminder.points,
            "expires_on": reminder.expires_on.isoformat(),
            "provider": provider.value,
            "locale": delivery.locale,
            **({"error": delivery.error} if delivery.error is not None else {}),
        },
    )
