"""Append-only logs, range-partitioned by month so 90-day retention is a partition drop."""

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    LoggedAtKey,
    MerchantKey,
    TextKey,
    created_at_column,
    updated_at_column,
)


class AuditLog(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("ix_audit_logs_merchant_action", "merchant_id", "action", "created_at"),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    merchant_id: Mapped[TextKey]
    id: Mapped[TextKey]
    created_at: Mapped[LoggedAtKey]
    action: Mapped[str]
    actor_id: Mapped[str | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, server_default="{}")


class ApiLog(Base):
    """The durable inbox of Shopify webhook deliveries (one row per accepted delivery)."""

    __tablename__ = "api_logs"
    __table_args__ = (
        Index("ix_api_logs_merchant_created", "merchant_id", "created_at"),
        Index(
            "ix_api_logs_pending_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # A worker batch's room, filled with the merchant's oldest due deliveries.
        Index(
            "ix_api_logs_merchant_pending_due",
            "merchant_id",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_api_logs_merchant_status_topic", "merchant_id", "status", "topic", "created_at"),
        Index(
            "ix_api_logs_merchant_customer",
            "merchant_id",
            "shopify_customer_id",
            postgresql_where=text("shopify_customer_id IS NOT NULL"),
        ),
        CheckConstraint("status IN ('pending', 'done', 'failed')", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    merchant_id: Mapped[TextKey]
    id: Mapped[TextKey]
    created_at: Mapped[LoggedAtKey]
    topic: Mapped[str]
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    webhook_id: Mapped[str]
    event_id: Mapped[str | None]
    triggered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    api_version: Mapped[str | None]
    # AES-256-GCM ciphertext of the raw body; cleared once the delivery is done.
    payload_encrypted: Mapped[str | None]
    payload_bytes: Mapped[int] = mapped_column(Integer)
    shopify_customer_id: Mapped[str | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None]
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = updated_at_column()


class WebhookReceipt(Base):
    """One row per Shopify webhook id: a retried delivery finds its receipt and adds nothing."""

    __tablename__ = "webhook_receipts"
    __table_args__ = (HASH_PARTITIONED_BY_MERCHANT,)

    merchant_id: Mapped[MerchantKey]
    webhook_id: Mapped[TextKey]
    delivery_id: Mapped[str]
    delivery_created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
