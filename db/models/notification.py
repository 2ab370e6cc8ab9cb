"""Customer notifications: the merchant's sender and channels, their own templates, and the
log of every message sent (migration 0014)."""

from datetime import datetime

from sqlalchemy import ARRAY, CheckConstraint, DateTime, Index, Text, UniqueConstraint
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
