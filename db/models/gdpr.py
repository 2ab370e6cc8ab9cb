"""GDPR requests: every data request and erasure Shopify sends, kept as the record of it."""

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import HASH_PARTITIONED_BY_MERCHANT, Base, MerchantKey, TextKey, Timestamps


class GdprRequest(Timestamps, Base):
    __tablename__ = "gdpr_requests"
    __table_args__ = (
        Index(
            "ix_gdpr_requests_merchant_type_created", "merchant_id", "request_type", "created_at"
        ),
        CheckConstraint(
            "request_type IN ('data_request', 'customer_redact', 'shop_redact', 'ccpa_opt_out')",
            name="request_type_known",
        ),
        CheckConstraint("status IN ('pending', 'completed', 'failed')", name="status_known"),
        # The completed requests the merchant has not been told of yet (the worker's sweep).
        Index(
            "ix_gdpr_requests_unnotified",
            "completed_at",
            postgresql_where=text("completed_at IS NOT NULL AND merchant_notified_at IS NULL"),
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    request_type: Mapped[str]
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    shopify_customer_id: Mapped[str | None]
    # No foreign key: the request is the lasting record that an erasure happened.
    customer_id: Mapped[str | None]
    delivery_id: Mapped[str | None]
    # The data_request export (JSON), AES-256-GCM encrypted; erased by a later redact.
    export_encrypted: Mapped[str | None]
    error: Mapped[str | None]
    retention_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the merchant was told the request was carried out (their Slack, if they have one;
    # the admin API shows it either way).
    merchant_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
