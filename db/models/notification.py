"""Customer notifications: the merchant's sender and channels, their own templates, and the
log of every message sent (migration 0014); the message types each merchant sends, how far
the flows have read the domain events, and what each Klaviyo profile was last sent
(migration 0023)."""

from datetime import datetime

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    MerchantKey,
    TextKey,
    Timestamps,
    Versioned,
    created_at_column,
    customer_foreign_key,
)

_MESSAGE_TYPES = (
    "message_type IN ('points_earned', 'reward_redeemed', 'tier_upgraded', "
    "'referral_completed', 'expiry_reminder', 'gdpr_done')"
)


class NotificationSettings(Versioned, Timestamps, Base):
    __tablename__ = "notification_settings"
    __table_args__ = (
        CheckConstraint(
            "channels <@ ARRAY['email', 'sms']::text[] AND cardinality(channels) > 0",
            name="channels_known",
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    sender_name: Mapped[str | None]
    sender_email: Mapped[str | None]
    channels: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{email}")
    # The message types the flows send, each with the moment it was switched on (ISO 8601):
    # events from before that moment are never sent, so switching a type on sends no backlog.
    message_types: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    # Klaviyo only: loyalty properties (tier, balance, referral link) kept on every profile.
    profile_sync: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class EmailTemplate(Timestamps, Base):
    __tablename__ = "email_templates"
    __table_args__ = (
        UniqueConstraint("merchant_id", "message_type", "locale"),
        CheckConstraint(_MESSAGE_TYPES, name="message_type_known"),
        CheckConstraint("locale IN ('en', 'es', 'fr', 'ar', 'he')", name="locale_known"),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    message_type: Mapped[str]
    locale: Mapped[str]
    subject: Mapped[str]
    body: Mapped[str]


class NotificationDelivery(Base):
    __tablename__ = "notification_deliveries"
    __table_args__ = (
        customer_foreign_key(),
        UniqueConstraint("merchant_id", "message_type", "event_id"),
        CheckConstraint(_MESSAGE_TYPES, name="message_type_known"),
        CheckConstraint("status IN ('sent', 'failed', 'skipped')", name="status_known"),
        Index("ix_notification_deliveries_merchant_created", "merchant_id", "created_at", "id"),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[TextKey]
    id: Mapped[TextKey]
    message_type: Mapped[str]
    event_id: Mapped[str]
    customer_id: Mapped[str | None]
    provider: Mapped[str]
    locale: Mapped[str | None]
    status: Mapped[str]
    # A code, never the provider's answer (which may quote the address).
    reason: Mapped[str | None]
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Tries so far: a message the provider could not take (5xx, 429) is tried again, up to
    # a limit (``points.notifications.flows``).
    attempts: Mapped[int] = mapped_column(Integer, server_default="1")


class NotificationCursor(Base):
    """How far one flow (a message type, or the Klaviyo profile sync) has read a merchant's
    domain events: everything committed before ``position`` has been handled. Readers look
    back a little before it, for transactions that committed late."""

    __tablename__ = "notification_cursors"
    __table_args__ = (HASH_PARTITIONED_BY_MERCHANT,)

    merchant_id: Mapped[MerchantKey]
    stream: Mapped[TextKey]
    position: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = created_at_column()


class KlaviyoProfileState(Base):
    """What a customer's Klaviyo profile was last sent (a digest of its properties), so a push
    or the nightly reconcile sends only what changed."""

    __tablename__ = "klaviyo_profile_states"
    __table_args__ = (customer_foreign_key(), HASH_PARTITIONED_BY_MERCHANT)

    merchant_id: Mapped[TextKey]
    customer_id: Mapped[TextKey]
    properties_digest: Mapped[str]
    pushed_at: Mapped[datetime] = created_at_column()
