"""Notification settings, templates and sending, without the transport details (those are
``kit.integrations.notifications``).

Settings and templates work inside the caller's transaction and never commit. Sending never
holds a transaction across the provider's HTTP call: ``send_setup`` reads what a send needs in
one unit of work, ``send`` calls the provider, ``record_outcome`` logs the outcome in another.
Every message has an event id (the domain event it tells about): it is the provider's dedupe
key and the delivery log's key, so a message resent after a crash is one message and one row.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import PROGRAM_SETTINGS_NOTIFICATION_API_KEY
from db.models import NotificationDelivery
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.integrations.http_retries import DEFAULT_RETRY_POLICY, RetryPolicy
from subgraphs.kit.integrations.notification_templates import (
    MESSAGE_TEMPLATES,
    RTL_LOCALES,
    SAMPLE_VALUES,
    SUPPORTED_LOCALES,
    Template,
)
from subgraphs.kit.integrations.notifications import (
    NotificationClient,
    NotificationNotDeliverable,
    NotificationRejected,
    NotificationUnavailable,
    Recipient,
    RenderedMessage,
    render_message,
    supported_locale,
    template_problems,
)
from subgraphs.kit.repository import AuditTrail
from subgraphs.points.consents.service import ConsentType, revoked
from subgraphs.points.customers.service import normalize_email
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.expiry.service import notification_client, recipients
from subgraphs.points.notifications.repository import (
    DeliveryRepository,
    EmailTemplateRepository,
    NewDelivery,
    NotificationSettingsRepository,
)
from subgraphs.points.program.repository import ProgramRepository
from subgraphs.points.program.service import (
    DEFAULT_CONFIG,
    NotificationProvider,
    program_config,
    update_program_config,
)

MAX_API_KEY_LENGTH = 200
MAX_SENDER_NAME_LENGTH = 100
MAX_TEMPLATE_LENGTH = 5_000
TEST_TIMEOUT = httpx.Timeout(10.0)
# Opens one transaction (a tenant unit of work) per call.
UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


class MessageType(enum.StrEnum):
    POINTS_EARNED = "points_earned"
    REWARD_REDEEMED = "reward_redeemed"
    TIER_UPGRADED = "tier_upgraded"
    REFERRAL_COMPLETED = "referral_completed"
    EXPIRY_REMINDER = "expiry_reminder"
    GDPR_DONE = "gdpr_done"


class DeliveryStatus(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


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
# What each provider can send: Postscript is SMS only.
PROVIDER_CHANNELS: dict[NotificationProvider, frozenset[Channel]] = {
    NotificationProvider.NONE: frozenset(),
    NotificationProvider.KLAVIYO: frozenset({Channel.EMAIL, Channel.SMS}),
    NotificationProvider.POSTSCRIPT: frozenset({Channel.SMS}),
}
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


def _invalid(field_name: str, message: str) -> PointsError:
    return PointsError(PointsErrorCode.INVALID_NOTIFICATION_SETTINGS, field_name, message)


# --- settings -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotificationSettingsView:
    """What the dashboard shows: never the key, only whether one is stored and its end."""

    provider: NotificationProvider
    api_key_set: bool
    api_key_last4: str | None
    sender_name: str | None
    sender_email: str | None
    channels: tuple[Channel, ...]
    version: int


@dataclass(frozen=True, slots=True)
class SettingsChanges:
    """An update; None keeps a value."""

    provider: NotificationProvider | None = None
    api_key: str | None = None
    sender_name: str | None = None
    sender_email: str | None = None
    channels: Sequence[Channel] | None = None
    expected_version: int | None = None


def _last4(api_key: str) -> str:
    return api_key[-4:] if len(api_key) > 8 else ""


async def notification_settings(
    session: AsyncSession, merchant_id: str, cipher: FieldCipher
) -> NotificationSettingsView:
    config = await program_config(session, merchant_id)
    encrypted = await ProgramRepository(session, merchant_id).notification_api_key()
    row = await NotificationSettingsRepository(session, merchant_id).settings()
    key = (
        None
        if encrypted is None
        else cipher.decrypt(encrypted, context=PROGRAM_SETTINGS_NOTIFICATION_API_KEY)
    )
    return NotificationSettingsView(
        provider=config.notifications,
        api_key_set=key is not None,
        api_key_last4=None if key is None else _last4(key),
        sender_name=None if row is None else row.sender_name,
        sender_email=None if row is None else row.sender_email,
        channels=(Channel.EMAIL,) if row is None else tuple(Channel(c) for c in row.channels),
        version=0 if row is None else row.version,
    )


def _checked_api_key(api_key: str) -> str:
    key = api_key.strip()
    if not key or len(key) > MAX_API_KEY_LENGTH or any(c.isspace() for c in key):
        raise _invalid("apiKey", f"an API key is 1 to {MAX_API_KEY_LENGTH} characters, no spaces")
    return key


def _checked_sender_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_SENDER_NAME_LENGTH or "\x00" in name:
        raise _invalid("senderName", f"a sender name is 1 to {MAX_SENDER_NAME_LENGTH} characters")
    return name


def _checked_sender_email(email: str) -> str:
    try:
        return normalize_email(email)
    except PointsError:
        raise _invalid("senderEmail", "not a valid email address") from None


async def update_notification_settings(
    session: AsyncSession,
    merchant_id: str,
    cipher: FieldCipher,
    changes: SettingsChanges,
    *,
    actor_id: str | None,
) -> NotificationSettingsView:
    """Validate and apply ``changes`` in the caller's transaction: the provider into the
    program settings, the key encrypted beside them, sender and channels into
    ``notification_settings``. Any refusal raises before the transaction commits, so nothing
    of a refused update is kept."""
    repository = NotificationSettingsRepository(session, merchant_id)
    current = await repository.settings(for_update=True)
    version = 0 if current is None else current.version
    if changes.expected_version is not None and changes.expected_version != version:
        raise PointsError(
            PointsErrorCode.VERSION_CONFLICT,
            "expectedVersion",
            f"the notification settings changed since version {changes.expected_version} "
            f"(they are at version {version} now); reload them and apply the change again",
        )
    provider = changes.provider or (await program_config(session, merchant_id)).notifications
    channels = (
        tuple(dict.fromkeys(changes.channels))
        if changes.channels is not None
        else (Channel.EMAIL,)
        if current is None
        else tuple(Channel(c) for c in current.channels)
    )
    if not channels:
        raise _invalid("channels", "at least one channel")
    if provider is NotificationProvider.POSTSCRIPT and changes.channels is None:
        channels = (Channel.SMS,)
    unsendable = [c.value for c in channels if c not in PROVIDER_CHANNELS[provider]]
    if provider is not NotificationProvider.NONE and unsendable:
        raise _invalid("channels", f"{provider.value} cannot send {', '.join(unsendable)} messages")
    sender_name = (
        _checked_sender_name(changes.sender_name)
        if changes.sender_name is not None
        else None
        if current is None
        else current.sender_name
    )
    sender_email = (
        _checked_sender_email(changes.sender_email)
        if changes.sender_email is not None
        else None
        if current is None
        else current.sender_email
    )
    program = ProgramRepository(session, merchant_id)
    if changes.api_key is not None:
        await program.save_notification_api_key(
            cipher.encrypt(
                _checked_api_key(changes.api_key), context=PROGRAM_SETTINGS_NOTIFICATION_API_KEY
            ),
            default_config=DEFAULT_CONFIG.model_dump(mode="json"),
        )
    if provider is not NotificationProvider.NONE and await program.notification_api_key() is None:
        raise PointsError(
            PointsErrorCode.API_KEY_REQUIRED,
            "apiKey",
            f"{provider.value} needs an API key: send apiKey",
        )
    if changes.provider is not None:
        await update_program_config(
            session, merchant_id, {"notifications": provider.value}, actor_id=actor_id
        )
    await repository.save(
        sender_name=sender_name, sender_email=sender_email, channels=[c.value for c in channels]
    )
    await AuditTrail(session, merchant_id, actor_id).record(
        AuditAction.NOTIFICATION_SETTINGS_UPDATED,
        {
            "provider": provider.value,
            "api_key_changed": changes.api_key is not None,
            "channels": [c.value for c in channels],
        },
    )
    return await notification_settings(session, merchant_id, cipher)


# --- templates ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmailTemplateView:
    message_type: MessageType
    locale: str
    subject: str
    body: str
    rtl: bool
    # False: the built-in text (the merchant has not written their own).
    custom: bool


async def email_templates(
    session: AsyncSession, merchant_id: str, message_type: MessageType | None = None
) -> list[EmailTemplateView]:
    """Every message type (or one) in every locale: the merchant's text where they wrote one,
    else the built-in one."""
    own = {
        (row.message_type, row.locale): row
        for row in await EmailTemplateRepository(session, merchant_id).templates(
            None if message_type is None else message_type.value
        )
    }
    views = []
    for kind in [message_type] if message_type is not None else list(MessageType):
        for locale in SUPPORTED_LOCALES:
            row = own.get((kind.value, locale))
            text = (
                MESSAGE_TEMPLATES[kind.value][locale]
                if row is None
                else Template(subject=row.subject, body=row.body)
            )
            views.append(
                EmailTemplateView(
                    kind, locale, text.subject, text.body, locale in RTL_LOCALES, row is not None
                )
            )
    return views


_PROBLEM_CODES = {
    "INVALID_TEMPLATE": PointsErrorCode.INVALID_TEMPLATE,
    "MISSING_PLACEHOLDER": PointsErrorCode.MISSING_PLACEHOLDER,
    "UNKNOWN_PLACEHOLDER": PointsErrorCode.UNKNOWN_PLACEHOLDER,
}


def check_template(message_type: MessageType, template: Template, *, field_path: str) -> None:
    """A PointsError for the template's first problem (``field_path``.subject or .body)."""
    for part, text in (("subject", template.subject), ("body", template.body)):
        if not text.strip() or len(text) > MAX_TEMPLATE_LENGTH or "\x00" in text:
            raise PointsError(
                PointsErrorCode.INVALID_TEMPLATE,
                f"{field_path}.{part}",
                f"{part}: 1 to {MAX_TEMPLATE_LENGTH} characters",
            )
    problems = template_problems(message_type.value, template)
    if problems:
        first = problems[0]
        raise PointsError(_PROBLEM_CODES[first.code], f"{field_path}.{first.part}", first.message)


async def update_email_templates(
    session: AsyncSession,
    merchant_id: str,
    message_type: MessageType,
    texts: Mapping[str, Template],
    *,
    actor_id: str | None,
) -> list[EmailTemplateView]:
    """Replace the type's templates: every supported locale must be given, and each must
    validate, or nothing is written."""
    unknown = sorted(set(texts) - set(SUPPORTED_LOCALES))
    if unknown:
        raise PointsError(
            PointsErrorCode.INVALID_TEMPLATE,
            "templates",
            f"unsupported locale {', '.join(unknown)}; supported: {', '.join(SUPPORTED_LOCALES)}",
        )
    missing = [locale for locale in SUPPORTED_LOCALES if locale not in texts]
    if missing:
        raise PointsError(
            PointsErrorCode.MISSING_LOCALE, "templates", f"missing locale {', '.join(missing)}"
        )
    locales = list(texts)
    for index, locale in enumerate(locales):
        check_template(message_type, texts[locale], field_path=f"templates.{index}")
    await EmailTemplateRepository(session, merchant_id).replace(message_type.value, texts)
    await AuditTrail(session, merchant_id, actor_id).record(
        AuditAction.EMAIL_TEMPLATE_UPDATED, {"message_type": message_type.value}
    )
    return await email_templates(session, merchant_id, message_type)


async def template_of(
    session: AsyncSession, merchant_id: str, message_type: MessageType, locale: str
) -> Template | None:
    """The merchant's own template of the type in the closest supported locale, if any."""
    row = await EmailTemplateRepository(session, merchant_id).template(
        message_type.value, supported_locale(locale)
    )
    return None if row is None else Template(subject=row.subject, body=row.body)


async def preview_email_template(
    session: AsyncSession,
    merchant_id: str,
    message_type: MessageType,
    locale: str,
    draft: Template | None = None,
) -> RenderedMessage:
    """The message as a customer would get it, filled with sample values: ``draft`` (checked
    first, nothing stored) or the template in use."""
    if draft is not None:
        check_template(message_type, draft, field_path="draft")
    template = draft or await template_of(session, merchant_id, message_type, locale)
    config = await program_config(session, merchant_id)
    values = {**SAMPLE_VALUES, "points_name": config.points_name}
    return render_message(message_type.value, locale, values, template=template)


# --- sending --------------------------------------------------------------------------------


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
        raise _invalid("email", "give an email or a phone number to send the test to")
    email = None if test.email is None else _checked_sender_email(test.email)
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
