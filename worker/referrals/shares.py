"""Sending referral shares (``referralShare`` queues them): email through the merchant's
Klaviyo, SMS through their Postscript (the key the points program keeps), WhatsApp through
LoyalNest's Twilio number.

Exactly once: a share is taken under a row lock (SKIP LOCKED) only while queued, sent, and
marked sent in that same transaction, so a second job for it (a retry, the sweep, a duplicate
enqueue) finds nothing to send. Its id is also Klaviyo's ``unique_id``, so even an email whose
commit was lost (a crash right after Klaviyo answered) is dropped by Klaviyo if it comes
again; Postscript and Twilio document no such key, so only that crash could repeat an SMS.

A provider that stays unwell through the HTTP retries (5xx, 429, timeouts) is tried again by
a later job, after a backoff, up to ``MAX_ATTEMPTS``; then, or at once when the provider
refuses the request, the share is recorded as failed with the reason."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from db.encryption_contexts import (
    PROGRAM_SETTINGS_NOTIFICATION_API_KEY,
    REFERRAL_SHARES_RECIPIENT,
)
from db.models import ReferralShare, ReferralShareStatus
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.integrations.http_retries import DEFAULT_RETRY_POLICY, RetryPolicy
from subgraphs.kit.integrations.notifications import (
    KlaviyoClient,
    NotificationError,
    NotificationUnavailable,
    PostscriptClient,
)
from subgraphs.kit.integrations.twilio import TwilioWhatsAppClient
from subgraphs.kit.resources import Resources
from subgraphs.points.program.repository import ProgramRepository
from subgraphs.points.program.service import NotificationProvider, program_config
from subgraphs.referrals.program.service import RTL_LOCALES, ShareChannel
from subgraphs.referrals.shares.repository import ReferralShareRepository, overdue_shares
from subgraphs.referrals.shares.service import enqueue_share

log = structlog.get_logger(__name__)

SHARE_METRIC = "LoyalNest Referral Shared"
MAX_ATTEMPTS = 3
# Waits before the 2nd and 3rd tries (each try is itself up to three HTTP attempts).
RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=5))
MAX_ERROR_LENGTH = 500
# A queued share this late was lost (an enqueue Redis did not take, a worker that died).
OVERDUE_AFTER = timedelta(minutes=2)


class ShareOutcome(enum.StrEnum):
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"
    SKIPPED = "skipped"  # sent or given up already, not due yet, or another worker has it


@dataclass(frozen=True, slots=True)
class ShareAttempt:
    outcome: ShareOutcome
    attempts: int = 0
    retry_in: timedelta | None = None
    error: str | None = None


class ChannelNotConfigured(NotificationError):
    """The shop (or LoyalNest) has no account to send on this channel."""


async def _sender_key(session: AsyncSession, merchant_id: str, resources: Resources) -> str:
    encrypted = await ProgramRepository(session, merchant_id).notification_api_key()
    if encrypted is None:
        raise ChannelNotConfigured("the shop's notification provider has no API key stored")
    return resources.cipher.decrypt(encrypted, context=PROGRAM_SETTINGS_NOTIFICATION_API_KEY)


async def _send(
    session: AsyncSession,
    resources: Resources,
    http: httpx.AsyncClient,
    share: ReferralShare,
    retry: RetryPolicy,
) -> None:
    to = resources.cipher.decrypt(share.recipient_encrypted, context=REFERRAL_SHARES_RECIPIENT)
    channel = ShareChannel(share.channel)
    if channel is ShareChannel.WHATSAPP:
        settings = resources.settings
        if not (
            settings.twilio_account_sid
            and settings.twilio_auth_token
            and settings.twilio_whatsapp_from
        ):
            raise ChannelNotConfigured("WhatsApp sharing needs LoyalNest's Twilio account")
        twilio = TwilioWhatsAppClient(
            http,
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_whatsapp_from,
            retry=retry,
        )
        await twilio.send(to, share.body)
        return
    provider = (await program_config(session, share.merchant_id)).notifications
    needed = (
        NotificationProvider.KLAVIYO
        if channel is ShareChannel.EMAIL
        else NotificationProvider.POSTSCRIPT
    )
    if provider is not needed:
        raise ChannelNotConfigured(
            f"{channel.value} shares go through {needed.value}; the shop's notifications "
            f"use {provider.value}"
        )
    key = await _sender_key(session, share.merchant_id, resources)
    if channel is ShareChannel.EMAIL:
        await KlaviyoClient(http, key, retry=retry).track(
            SHARE_METRIC,
            {"email": to},
            {
                "subject": share.subject,
                "body": share.body,
                "locale": share.locale,
                "rtl": share.locale in RTL_LOCALES,
                "advocate_id": share.advocate_customer_id,
            },
            unique_id=share.id,
        )
    else:
        await PostscriptClient(http, key, retry=retry).send_sms(to, share.body)


async def send_share(
    resources: Resources,
    http: httpx.AsyncClient,
    merchant_id: str,
    share_id: str,
    *,
    now: datetime | None = None,
    retry: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> ShareAttempt:
    """One try at sending the share (see the module docstring)."""
    now = now or datetime.now(UTC)
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        shares = ReferralShareRepository(session, merchant_id)
        share = await shares.take_queued(share_id, now)
        if share is None:
            return ShareAttempt(ShareOutcome.SKIPPED)
        attempts = share.attempts + 1
        try:
            await _send(session, resources, http, share, retry)
        except NotificationError as error:
            message = str(error)[:MAX_ERROR_LENGTH]
            again = isinstance(error, NotificationUnavailable) and attempts < MAX_ATTEMPTS
            delay = RETRY_DELAYS[attempts - 1] if again else None
            await shares.record_attempt(
                share_id,
                ReferralShareStatus.QUEUED if again else ReferralShareStatus.FAILED,
                error=message,
                next_attempt_at=None if delay is None else now + delay,
                sent_at=None,
            )
            log.warning(
                "referral_share_failed", share_id=share_id, attempts=attempts, error=message
            )
            if delay is not None:
                return ShareAttempt(ShareOutcome.RETRYING, attempts, delay, message)
            return ShareAttempt(ShareOutcome.FAILED, attempts, None, message)
        await shares.record_attempt(
            share_id, ReferralShareStatus.SENT, error=None, next_attempt_at=None, sent_at=now
        )
    return ShareAttempt(ShareOutcome.SENT, attempts)


async def send_share_and_reschedule(
    resources: Resources, http: httpx.AsyncClient, merchant_id: str, share_id: str
) -> ShareAttempt:
    """``send_share``, and the next try put on the queue when there is one to make."""
    attempt = await send_share(resources, http, merchant_id, share_id)
    if attempt.retry_in is not None:
        await enqueue_share(
            resources.redis,
            merchant_id,
            share_id,
            attempt=attempt.attempts,
            defer_seconds=attempt.retry_in.total_seconds(),
        )
    return attempt


async def requeue_overdue_shares(
    resources: Resources, *, now: datetime | None = None, limit: int = 500
) -> list[str]:
    """Put back on the queue the shares that should have been sent by now; their ids."""
    now = now or datetime.now(UTC)
    async with system_unit_of_work(resources.sessions) as session:
        overdue = await overdue_shares(session, now - OVERDUE_AFTER, limit)
    for merchant_id, share_id in overdue:
        # A job id of its own: the first one may still be kept as a result by arq.
        await enqueue_share(resources.redis, merchant_id, share_id, attempt=int(now.timestamp()))
    return [share_id for _, share_id in overdue]
