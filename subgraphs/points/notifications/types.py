"""GraphQL types of customer notifications: settings, templates, previews, the delivery log."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from db.models import NotificationDelivery as NotificationDeliveryRow
from subgraphs.kit.graphql.domain import domain_enum
from subgraphs.kit.graphql.fields import expected_version_field, from_attributes, version_field
from subgraphs.kit.graphql.node import NODE_ID_DESCRIPTION, global_id, local_id
from subgraphs.kit.graphql.user_errors import user_errors_field
from subgraphs.kit.integrations.message_rendering import RenderedMessage
from subgraphs.kit.integrations.notification_templates import Template
from subgraphs.kit.permissions import Capability, require
from subgraphs.points.loaders import PointsInfo
from subgraphs.points.notifications import service
from subgraphs.points.notifications.message_types import MessageType
from subgraphs.points.program.service import NotificationProvider as ProviderValue
from subgraphs.points.program.types import NotificationProvider
from subgraphs.points.user_errors import PointsUserError

NotificationChannel = domain_enum(
    service.Channel,
    name="NotificationChannel",
    description="How a notification reaches the customer.",
    values={"EMAIL": "By email (Klaviyo).", "SMS": "By text message (Klaviyo or Postscript)."},
)
NotificationMessageType = domain_enum(
    MessageType,
    name="NotificationMessageType",
    description="What a notification tells the customer.",
    values={
        "POINTS_EARNED": "Points were credited (marketing: needs newsletter consent).",
        "REWARD_REDEEMED": "A reward was redeemed; carries its discount code.",
        "TIER_UPGRADED": "The customer reached a higher VIP tier (marketing).",
        "REFERRAL_COMPLETED": "A referred friend's order earned the advocate their reward, once "
        "issued: points (`points`) or a discount code (`code`) (marketing).",
        "EXPIRY_REMINDER": "Points expire soon; at most one a week (marketing).",
        "GDPR_DONE": "A privacy request was carried out; sent whatever the consents.",
    },
)
NotificationDeliveryStatus = domain_enum(
    service.DeliveryStatus,
    name="NotificationDeliveryStatus",
    description="How sending a notification ended.",
    values={
        "SENT": "The provider accepted it.",
        "FAILED": "The provider refused it or stayed unavailable; `reason` says which.",
        "SKIPPED": "Not sent on purpose: no consent, or the customer's data was erased.",
    },
)


class _Locale(enum.StrEnum):
    EN = "en"
    ES = "es"
    FR = "fr"
    AR = "ar"
    HE = "he"


NotificationLocale = domain_enum(
    _Locale,
    name="NotificationLocale",
    description="A language notifications are written in.",
    values={
        "EN": "English.",
        "ES": "Spanish.",
        "FR": "French.",
        "AR": "Arabic (right to left).",
        "HE": "Hebrew (right to left).",
    },
)


@strawberry.type(description="How the merchant's customer notifications go out.")
class NotificationSettings:
    provider: NotificationProvider = strawberry.field(  # type: ignore[valid-type]
        description="Who sends them (the program setting `notifications`)."
    )
    api_key_set: bool = strawberry.field(
        description="Whether an API key for the provider is stored. The key itself is never "
        "returned."
    )
    api_key_last4: str | None = strawberry.field(
        description="The key's last 4 characters, to recognise it; null when none is stored, "
        "empty for a key too short to show any of it."
    )
    sender_name: str | None = strawberry.field(description="The name messages come from.")
    sender_email: str | None = strawberry.field(description="The address emails come from.")
    channels: list[NotificationChannel] = strawberry.field(  # type: ignore[valid-type]
        description="The channels messages are sent on."
    )
    message_types: list[NotificationMessageType] = strawberry.field(  # type: ignore[valid-type]
        description="The messages sent when their event happens (points earned, a reward "
        "redeemed, ...). Until the merchant chooses: all but POINTS_EARNED. Events from "
        "before a type was switched on are never sent."
    )
    klaviyo_profile_sync: bool = strawberry.field(
        description="Klaviyo only: whether each customer's profile carries their loyalty "
        "properties (loyalnest_vip_tier, loyalnest_points_balance, loyalnest_referral_url, "
        "...), pushed on change and reconciled nightly. On until switched off."
    )
    version: int = version_field("notification settings")

    @classmethod
    def from_view(cls, view: service.NotificationSettingsView) -> NotificationSettings:
        return from_attributes(
            cls,
            view,
            channels=list(view.channels),
            message_types=list(view.message_types),
            klaviyo_profile_sync=view.profile_sync,
        )


@strawberry.type(description="A message type's text in one language.")
class EmailTemplate:
    message_type: NotificationMessageType = strawberry.field(  # type: ignore[valid-type]
        description="What the message tells."
    )
    locale: NotificationLocale = strawberry.field(description="Its language.")  # type: ignore[valid-type]
    subject: str = strawberry.field(
        description="The subject line, a template: {{ placeholder }} fields."
    )
    body: str = strawberry.field(description="The text (an SMS is only this), a template.")
    rtl: bool = strawberry.field(description="True for right-to-left languages (ar, he).")
    custom: bool = strawberry.field(
        description="True for the merchant's own text; false for the built-in one."
    )

    @classmethod
    def from_view(cls, view: service.EmailTemplateView) -> EmailTemplate:
        return from_attributes(cls, view, locale=_Locale(view.locale))


@strawberry.type(description="A message as a customer would get it, with sample values.")
class EmailTemplatePreview:
    locale: NotificationLocale = strawberry.field(description="Its language.")  # type: ignore[valid-type]
    subject: str = strawberry.field(description="The rendered subject.")
    body: str = strawberry.field(description="The rendered text.")
    rtl: bool = strawberry.field(description="Whether it reads right to left.")

    @classmethod
    def from_message(cls, message: RenderedMessage) -> EmailTemplatePreview:
        return cls(
            locale=_Locale(message.locale),
            subject=message.subject,
            body=message.body,
            rtl=message.rtl,
        )


@strawberry.federation.type(
    keys=["id"], description="One notification sent, failed or skipped: the delivery log."
)
class NotificationDelivery:
    id: strawberry.ID = strawberry.field(description=NODE_ID_DESCRIPTION)
    message_type: NotificationMessageType = strawberry.field(  # type: ignore[valid-type]
        description="What it told."
    )
    event_id: str = strawberry.field(
        description="The event it told about: also the provider's dedupe key."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        description="The customer it went to; null for a test message."
    )
    provider: NotificationProvider = strawberry.field(description="Who sent it.")  # type: ignore[valid-type]
    locale: NotificationLocale | None = strawberry.field(  # type: ignore[valid-type]
        description="The language it was written in; null when skipped before rendering."
    )
    status: NotificationDeliveryStatus = strawberry.field(description="How it ended.")  # type: ignore[valid-type]
    reason: str | None = strawberry.field(
        description="Why it failed or was skipped: not_deliverable, rejected_<HTTP status>, "
        "unavailable, no_consent, redacted."
    )
    created_at: datetime = strawberry.field(description="When it was attempted first.")
    sent_at: datetime | None = strawberry.field(description="When the provider accepted it.")

    @classmethod
    def from_row(cls, row: NotificationDeliveryRow) -> NotificationDelivery:
        return from_attributes(
            cls,
            row,
            id=global_id("NotificationDelivery", row.id),
            message_type=MessageType(row.message_type),
            customer_id=None if row.customer_id is None else global_id("Customer", row.customer_id),
            provider=ProviderValue(row.provider),
            locale=None if row.locale is None else _Locale(row.locale),
            status=service.DeliveryStatus(row.status),
        )

    @classmethod
    async def resolve_reference(
        cls, info: PointsInfo, id: strawberry.ID
    ) -> NotificationDelivery | None:
        """A refetch by global ID: readable as ``notificationDeliveries`` is (READ_PROGRAM)."""
        require(info.context.viewer, Capability.READ_PROGRAM)
        row = await info.context.loaders.notification_delivery_by_id.load(
            local_id(id, "NotificationDelivery")
        )
        return None if row is None else cls.from_row(row)


@strawberry.input(description="Changes to the notification settings; omitted fields keep.")
class NotificationSettingsUpdateInput:
    expected_version: int | None = expected_version_field("notification settings")
    provider: NotificationProvider | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Who sends the notifications; NONE stops them."
    )
    api_key: str | None = strawberry.field(
        default=None,
        description="The provider's private API key, stored encrypted and never returned.",
    )
    sender_name: str | None = strawberry.field(
        default=None, description="The name messages come from, 1 to 100 characters."
    )
    sender_email: str | None = strawberry.field(
        default=None, description="The address emails come from."
    )
    channels: list[NotificationChannel] | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="The channels to send on (Postscript: SMS only); replaces the list.",
    )
    message_types: list[NotificationMessageType] | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="The messages to send when their event happens; replaces the list (an "
        "empty list sends none). A type switched on now sends events from now on.",
    )
    klaviyo_profile_sync: bool | None = strawberry.field(
        default=None,
        description="Klaviyo only: keep loyalty properties on customers' profiles.",
    )

    def to_changes(self) -> service.SettingsChanges:
        return service.SettingsChanges(
            provider=None if self.provider is None else ProviderValue(self.provider),
            api_key=self.api_key,
            sender_name=self.sender_name,
            sender_email=self.sender_email,
            channels=None
            if self.channels is None
            else [service.Channel(channel) for channel in self.channels],
            message_types=None
            if self.message_types is None
            else [MessageType(kind) for kind in self.message_types],
            profile_sync=self.klaviyo_profile_sync,
            expected_version=self.expected_version,
        )


@strawberry.type(description="The result of notificationSettingsUpdate.")
class NotificationSettingsUpdatePayload:
    notification_settings: NotificationSettings | None = strawberry.field(
        default=None, description="The settings as saved; null when refused."
    )
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.input(description="A message type's text in one language.")
class EmailTemplateInput:
    locale: NotificationLocale = strawberry.field(description="Its language.")  # type: ignore[valid-type]
    subject: str = strawberry.field(description="The subject, with {{ placeholder }} fields.")
    body: str = strawberry.field(description="The text, with {{ placeholder }} fields.")

    def to_template(self) -> Template:
        return Template(subject=self.subject, body=self.body)


@strawberry.input(description="Replace a message type's templates, in every language at once.")
class EmailTemplatesUpdateInput:
    message_type: NotificationMessageType = strawberry.field(  # type: ignore[valid-type]
        description="The message type."
    )
    templates: list[EmailTemplateInput] = strawberry.field(
        description="One per supported locale (en, es, fr, ar, he), each using the type's "
        "required placeholders and no others."
    )


@strawberry.type(description="The result of emailTemplatesUpdate.")
class EmailTemplatesUpdatePayload:
    email_templates: list[EmailTemplate] = strawberry.field(
        default_factory=list, description="The type's templates as saved; empty when refused."
    )
    user_errors: list[PointsUserError] = user_errors_field()


@strawberry.input(description="Send one message type to an address of yours, as a test.")
class NotificationTestInput:
    message_type: NotificationMessageType = strawberry.field(  # type: ignore[valid-type]
        description="Which message to send (its template in use, with sample values)."
    )
    locale: NotificationLocale = strawberry.field(description="In which language.")  # type: ignore[valid-type]
    email: str | None = strawberry.field(
        default=None, description="Send it to this email (neither stored nor logged)."
    )
    phone: str | None = strawberry.field(
        default=None, description="Send it to this phone, E.164 (neither stored nor logged)."
    )


@strawberry.type(description="The result of notificationTest.")
class NotificationTestPayload:
    delivery: NotificationDelivery | None = strawberry.field(
        default=None,
        description="The delivery log entry: SENT, or FAILED with the provider's reason.",
    )
    user_errors: list[PointsUserError] = user_errors_field()
