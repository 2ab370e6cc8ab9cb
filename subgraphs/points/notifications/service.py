"""Notification settings and templates, without the transport details (those are
``kit.integrations.notifications``; sending is ``sending.py``).

Both work inside the caller's transaction and never commit.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import PROGRAM_SETTINGS_NOTIFICATION_API_KEY
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.integrations.message_rendering import (
    RenderedMessage,
    render_message,
    supported_locale,
    template_problems,
)
from subgraphs.kit.integrations.notification_templates import (
    MESSAGE_TEMPLATES,
    RTL_LOCALES,
    SAMPLE_VALUES,
    SUPPORTED_LOCALES,
    Template,
)
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.customers.service import normalize_email
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.notifications.message_types import (
    DEFAULT_MESSAGE_TYPES,
    MessageType,
    enabled_since,
    message_types_after,
)
from subgraphs.points.notifications.repository import (
    EmailTemplateRepository,
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


class DeliveryStatus(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


# What each provider can send: Postscript is SMS only.
PROVIDER_CHANNELS: dict[NotificationProvider, frozenset[Channel]] = {
    NotificationProvider.NONE: frozenset(),
    NotificationProvider.KLAVIYO: frozenset({Channel.EMAIL, Channel.SMS}),
    NotificationProvider.POSTSCRIPT: frozenset({Channel.SMS}),
}


def invalid_settings(field_name: str, message: str) -> PointsError:
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
    message_types: tuple[MessageType, ...]
    profile_sync: bool
    version: int


@dataclass(frozen=True, slots=True)
class SettingsChanges:
    """An update; None keeps a value."""

    provider: NotificationProvider | None = None
    api_key: str | None = None
    sender_name: str | None = None
    sender_email: str | None = None
    channels: Sequence[Channel] | None = None
    message_types: Sequence[MessageType] | None = None
    profile_sync: bool | None = None
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
        message_types=tuple(
            sorted(DEFAULT_MESSAGE_TYPES if row is None else enabled_since(row.message_types))
        ),
        profile_sync=True if row is None else row.profile_sync,
        version=0 if row is None else row.version,
    )


def _checked_api_key(api_key: str) -> str:
    key = api_key.strip()
    if not key or len(key) > MAX_API_KEY_LENGTH or any(c.isspace() for c in key):
        raise invalid_settings(
            "apiKey", f"an API key is 1 to {MAX_API_KEY_LENGTH} characters, no spaces"
        )
    return key


def _checked_sender_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_SENDER_NAME_LENGTH or "\x00" in name:
        raise invalid_settings(
            "senderName", f"a sender name is 1 to {MAX_SENDER_NAME_LENGTH} characters"
        )
    return name


def checked_email(email: str) -> str:
    try:
        return normalize_email(email)
    except PointsError:
        raise invalid_settings("senderEmail", "not a valid email address") from None


def _checked_or_kept(
    change: str | None, check: Callable[[str], str], stored: str | None
) -> str | None:
    """A changed value, checked; no change (None) keeps the stored one."""
    return stored if change is None else check(change)


async def update_notification_settings(
    write: WriteContext, cipher: FieldCipher, changes: SettingsChanges
) -> NotificationSettingsView:
    """Validate and apply ``changes`` in the caller's transaction: the provider into the
    program settings, the key encrypted beside them, sender and channels into
    ``notification_settings``. Any refusal raises before the transaction commits, so nothing
    of a refused update is kept."""
    session, merchant_id = write.session, write.merchant_id
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
    provider_before = (await program_config(session, merchant_id)).notifications
    provider = changes.provider or provider_before
    channels = (
        tuple(dict.fromkeys(changes.channels))
        if changes.channels is not None
        else (Channel.EMAIL,)
        if current is None
        else tuple(Channel(c) for c in current.channels)
    )
    if not channels:
        raise invalid_settings("channels", "at least one channel")
    if provider is NotificationProvider.POSTSCRIPT and changes.channels is None:
        channels = (Channel.SMS,)
    unsendable = [c.value for c in channels if c not in PROVIDER_CHANNELS[provider]]
    if provider is not NotificationProvider.NONE and unsendable:
        raise invalid_settings(
            "channels", f"{provider.value} cannot send {', '.join(unsendable)} messages"
        )
    sender_name = _checked_or_kept(
        changes.sender_name, _checked_sender_name, None if current is None else current.sender_name
    )
    sender_email = _checked_or_kept(
        changes.sender_email, checked_email, None if current is None else current.sender_email
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
        await update_program_config(write, {"notifications": provider.value})
    restart = provider_before is NotificationProvider.NONE and provider_before is not provider
    await repository.save(
        sender_name=sender_name,
        sender_email=sender_email,
        channels=[c.value for c in channels],
        message_types=message_types_after(
            None if current is None else current.message_types,
            changes.message_types,
            restart=restart,
            now=write.now,
        ),
        profile_sync=(
            changes.profile_sync
            if changes.profile_sync is not None
            else current is None or current.profile_sync
        ),
    )
    await write.audit.record(
        AuditAction.NOTIFICATION_SETTINGS_UPDATED,
        {
            "provider": provider.value,
            "api_key_changed": changes.api_key is not None,
            "channels": [c.value for c in channels],
            **(
                {}
                if changes.message_types is None
                else {"message_types": sorted(kind.value for kind in changes.message_types)}
            ),
            **({} if changes.profile_sync is None else {"profile_sync": changes.profile_sync}),
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
    write: WriteContext, message_type: MessageType, texts: Mapping[str, Template]
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
    await EmailTemplateRepository(write.session, write.merchant_id).replace(
        message_type.value, texts
    )
    await write.audit.record(
        AuditAction.EMAIL_TEMPLATE_UPDATED, {"message_type": message_type.value}
    )
    return await email_templates(write.session, write.merchant_id, message_type)


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
