"""Sending customer notifications through the merchant's provider.

Sending never holds a transaction across the provider's HTTP call: ``send_setup`` reads what a
send needs in one unit of work, ``send`` calls the provider, ``record_outcome`` logs the
outcome in another. Every message has an event id (the domain event it tells about): it is
the provider's dedupe key and the delivery log's key, so a message resent after a crash is one
message and one row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import PROGRAM_SETTINGS_NOTIFICATION_API_KEY
from db.models import NotificationDelivery
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.integrations.http_retries import DEFAULT_RETRY_POLICY, RetryPolicy
from subgraphs.kit.integrations.message_rendering import render_message
from subgraphs.kit.integrations.notification_templates import (
    SAMPLE_VALUES,
    Template,
)
from subgraphs.kit.integrations.notifications import (
    NotificationClient,
    NotificationNotDeliverable,
    NotificationRejected,
    NotificationUnavailable,
    Recipient,
)
from subgraphs.kit.repository import AuditTrail
from subgraphs.points.consents.service import ConsentType, revoked
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.expiry.service import notification_client, recipients
from subgraphs.points.notifications.message_types import MessageType
from subgraphs.points.notifications.repository import (
    DeliveryRepository,
    NewDelivery,
    NotificationSettingsRepository,
)
from subgraphs.points.notifications.service import (
    PROVIDER_CHANNELS,
    TEST_TIMEOUT,
    Channel,
    DeliveryStatus,
    UnitOfWork,
    checked_email,
    invalid_settings,
    template_of,
)
from subgraphs.points.program.repository import ProgramRepository
from subgraphs.points.program.service import (
    NotificationProvider,
    program_config,
)

# Marketing messages need the customer's newsletter consent; the others answer something the
# customer did or asked for (a reward's code, a GDPR request) and are always sent.
MARKETING = frozenset(
    {
        MessageType.POINTS_EARNED,
        MessageType.TIER_UPGRADED,
        MessageType.REFERRAL_COMPLETED,
        MessageType.EXPIRY_REMINDER,
    }
)
# The Klaviyo metric each message type is recorded as (the merchant's flow listens on it).
METRICS: dict[MessageType, str] = {
    MessageType.POINTS_EARNED: "LoyalNest Points Earned",
    MessageType.REWARD_REDEEMED: "LoyalNest Reward Redeemed",
    MessageType.TIER_UPGRADED: "LoyalNest Tier Upgraded",
    MessageType.REFERRAL_COMPLETED: "LoyalNest Referral Completed",
    MessageType.EXPIRY_REMINDER: "LoyalNest Points Expiring",
    MessageType.GDPR_DONE: "LoyalNest Privacy Request Completed",
}
TEST_METRIC = "LoyalNest Test Message"


@dataclass(frozen=True, slots=True)
class SendSetup:
    """What sending needs, read once per run: the provider, its key and the channels."""

    provider: NotificationProvider
    api_key: str
    channels: frozenset[Channel]


async def send_setup(
    session: AsyncSession, merchant_id: str, cipher: FieldCipher
) -> SendSetup | None:
    """None when the merchant sends nothing (no provider, or no key for it)."""
    config = await program_config(session, merchant_id)
    if config.notifications is NotificationProvider.NONE:
        return None
    encrypted = await ProgramRepository(session, merchant_id).notification_api_key()
    if encrypted is None:
        return None
    row = await NotificationSettingsRepository(session, merchant_id).settings()
    channels = (
        PROVIDER_CHANNELS[config.notifications]
        if row is None
        else frozenset(Channel(c) for c in row.channels)
    )
    return SendSetup(
        provider=config.notifications,
        api_key=cipher.decrypt(encrypted, context=PROGRAM_SETTINGS_NOTIFICATION_API_KEY),
        channels=channels,
    )


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message to send: about ``event_id`` (its dedupe key), to ``recipient``."""

    message_type: MessageType
    event_id: str
    customer_id: str | None
    recipient: Recipient
    values: Mapping[str, str]
    template: Template | None = None
    properties: Mapping[str, object] = field(default_factory=dict)
    metric: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    status: DeliveryStatus
    locale: str | None
    # A code: never the provider's answer, which may quote the address.
    reason: str | None = None


def _recipient_on(channels: frozenset[Channel], recipient: Recipient) -> Recipient:
    """The recipient with only the addresses of the merchant's channels."""
    return Recipient(
        email=recipient.email if Channel.EMAIL in channels else None,
        phone=recipient.phone if Channel.SMS in channels else None,
        locale=recipient.locale,
        external_id=recipient.external_id,
    )


async def send(client: NotificationClient, setup: SendSetup, outbound: Outbound) -> Outcome:
    """Render and send one message; its outcome, never an exception the provider caused."""
    message = render_message(
        outbound.message_type.value,
        outbound.recipient.locale,
        dict(outbound.values),
        template=outbound.template,
    )
    try:
        await client.send_message(
            _recipient_on(setup.channels, outbound.recipient),
            message,
            metric=outbound.metric or METRICS[outbound.message_type],
            event_id=outbound.event_id,
            properties=dict(outbound.properties),
        )
    except NotificationNotDeliverable:
        return Outcome(DeliveryStatus.FAILED, message.locale, "not_deliverable")
    except NotificationRejected as error:
        return Outcome(DeliveryStatus.FAILED, message.locale, f"rejected_{error.status_code}")
    except NotificationUnavailable:
        return Outcome(DeliveryStatus.FAILED, message.locale, "unavailable")
    return Outcome(DeliveryStatus.SENT, message.locale)


_AUDIT_OF = {
    DeliveryStatus.SENT: AuditAction.NOTIFICATION_SENT,
    DeliveryStatus.FAILED: AuditAction.NOTIFICATION_FAILED,
    DeliveryStatus.SKIPPED: AuditAction.NOTIFICATION_SKIPPED,
}


async def record_outcome(
    session: AsyncSession,
    merchant_id: str,
    outbound: Outbound,
    *,
    provider: NotificationProvider,
    outcome: Outcome,
    now: datetime,
    actor_id: str | None = None,
) -> NotificationDelivery:
    """The delivery log row of the message (one per type and event) and its audit entry."""
    row = await DeliveryRepository(session, merchant_id).record(
        NewDelivery(
            message_type=outbound.message_type.value,
            event_id=outbound.event_id,
            customer_id=outbound.customer_id,
            provider=provider.value,
            locale=outcome.locale,
            status=outcome.status.value,
            reason=outcome.reason,
            at=now,
        )
    )
    await AuditTrail(session, merchant_id, actor_id).record(
        _AUDIT_OF[outcome.status],
        {
            "delivery_id": row.id,
            "message_type": outbound.message_type.value,
            "event_id": outbound.event_id,
            "customer_id": outbound.customer_id,
            "provider": provider.value,
            **({"reason": outcome.reason} if outcome.reason else {}),
        },
    )
    return row


@asynccontextmanager
async def _http_client(http: httpx.AsyncClient | None) -> AsyncIterator[httpx.AsyncClient]:
    if http is not None:
        yield http
        return
    async with httpx.AsyncClient(timeout=TEST_TIMEOUT) as client:
        yield client


@dataclass(frozen=True, slots=True)
class TestMessage:
    message_type: MessageType
    locale: str
    email: str | None
    phone: str | None


async def send_test_message(
    sessions: UnitOfWork,
    merchant_id: str,
    cipher: FieldCipher,
    test: TestMessage,
    *,
    event_id: str,
    actor_id: str | None,
    now: datetime,
    http: httpx.AsyncClient | None = None,
    retry: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> NotificationDelivery:
    """Send the message type's template (sample values) to an address the merchant gives,
    through their provider, and log it. The address is neither stored nor logged."""
    if test.email is None and test.phone is None:
        raise invalid_settings("email", "give an email or a phone number to send the test to")
    email = None if test.email is None else checked_email(test.email)
    async with sessions() as session:
        setup = await send_setup(session, merchant_id, cipher)
        if setup is None:
            raise PointsError(
                PointsErrorCode.NOTIFICATIONS_OFF,
                "messageType",
                "choose a notification provider (with its API key) first",
            )
        template = await template_of(session, merchant_id, test.message_type, test.locale)
        config = await program_config(session, merchant_id)
    outbound = Outbound(
        message_type=test.message_type,
        event_id=event_id,
        customer_id=None,
        recipient=Recipient(
            email=email, phone=test.phone, locale=test.locale, external_id=f"test:{event_id}"
        ),
        values={**SAMPLE_VALUES, "points_name": config.points_name},
        template=template,
        metric=TEST_METRIC,
        properties={"message_type": test.message_type.value, "test": True},
    )
    async with _http_client(http) as client_http:
        client = notification_client(setup.provider, client_http, setup.api_key, retry=retry)
        outcome = await send(client, setup, outbound)
    async with sessions() as session:
        return await record_outcome(
            session,
            merchant_id,
            outbound,
            provider=setup.provider,
            outcome=outcome,
            now=now,
            actor_id=actor_id,
        )


@dataclass(frozen=True, slots=True)
class CustomerMessage:
    """A message about ``event_id`` to one of the merchant's customers."""

    message_type: MessageType
    event_id: str
    customer_id: str
    values: Mapping[str, str]


async def notify_customer(
    sessions: UnitOfWork,
    merchant_id: str,
    cipher: FieldCipher,
    message: CustomerMessage,
    *,
    now: datetime,
    http: httpx.AsyncClient | None = None,
    retry: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> NotificationDelivery | None:
    """Send one message to a customer, once per event: an event already sent is not sent
    again, a redacted customer and (for marketing) one who revoked their newsletter consent
    get nothing (logged SKIPPED). None when the merchant sends no notifications."""
    async with sessions() as session:
        setup = await send_setup(session, merchant_id, cipher)
        if setup is None:
            return None
        log = DeliveryRepository(session, merchant_id)
        earlier = await log.delivery_of(message.message_type.value, message.event_id)
        if earlier is not None and earlier.status == DeliveryStatus.SENT.value:
            return earlier
        found = await recipients(
            session, merchant_id, cipher, [message.customer_id], marketing=False
        )
        recipient = found.get(message.customer_id)
        skip = None
        if recipient is None:
            skip = "redacted"
        elif message.message_type in MARKETING and message.customer_id in await revoked(
            session, merchant_id, [message.customer_id], ConsentType.NEWSLETTER
        ):
            skip = "no_consent"
        template = (
            None
            if recipient is None
            else await template_of(session, merchant_id, message.message_type, recipient.locale)
        )
        config = await program_config(session, merchant_id)
    values = {"points_name": config.points_name, **message.values}
    if recipient is None or skip is not None:
        outcome = Outcome(DeliveryStatus.SKIPPED, None, skip)
        outbound = Outbound(
            message.message_type,
            message.event_id,
            message.customer_id,
            Recipient(None, None, "en", message.customer_id),
            values,
        )
    else:
        outbound = Outbound(
            message.message_type,
            message.event_id,
            message.customer_id,
            recipient,
            values,
            template=template,
        )
        async with _http_client(http) as client_http:
            client = notification_client(setup.provider, client_http, setup.api_key, retry=retry)
            outcome = await send(client, setup, outbound)
    async with sessions() as session:
        return await record_outcome(
            session, merchant_id, outbound, provider=setup.provider, outcome=outcome, now=now
        )
