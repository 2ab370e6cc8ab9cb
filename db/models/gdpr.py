"""GDPR requests: every data request and erasure Shopify sends, kept as the record of it;
the download links of exports used up; the providers' profiles an erasure deletes."""

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    MerchantKey,
    TextKey,
    Timestamps,
    created_at_column,
    tenant_foreign_key,
)


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
        # The data requests whose export the job has not built yet (the sweeper's).
        Index(
            "ix_gdpr_requests_pending", "created_at", postgresql_where=text("status = 'pending'")
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
    # What a pending data request asks for (JSON, encrypted: it quotes the customer's email),
    # read by the export job; cleared once the export is built.
    export_spec_encrypted: Mapped[str | None]
    # Starts of the export job: one that keeps stopping midway ends failed.
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    error: Mapped[str | None]
    retention_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the merchant was told the request was carried out (their Slack, if they have one;
    # the admin API shows it either way).
    merchant_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GdprExportDownload(Base):
    """A download link of an export, used: its id is the random one signed into the link, so
    the same link works once. Goes with its request."""

    __tablename__ = "gdpr_export_downloads"
    __table_args__ = (
        tenant_foreign_key("request_id", "gdpr_requests"),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    request_id: Mapped[str]
    created_at: Mapped[datetime] = created_at_column()


class GdprProfileDeletion(Timestamps, Base):
    """A customer's profile at the merchant's marketing provider, to delete after an erasure.
    The identifier is held (encrypted) only until the provider accepted the deletion or the
    job gave up."""

    __tablename__ = "gdpr_profile_deletions"
    __table_args__ = (
        # Goes with its erasure's request (after the same 90 days).
        tenant_foreign_key("request_id", "gdpr_requests"),
        UniqueConstraint("merchant_id", "customer_id", "provider"),
        CheckConstraint(
            "status IN ('pending', 'sending', 'requested', 'skipped', 'failed')",
            name="status_known",
        ),
        Index(
            "ix_gdpr_profile_deletions_unfinished",
            "created_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    request_id: Mapped[str]
    customer_id: Mapped[str]
    provider: Mapped[str]
    identifier_encrypted: Mapped[str | None]
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # A job sending it holds it until then; past it, a crashed job's claim is free again.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None]
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
