"""Consents: every grant and revocation a customer gave, append-only (migration 0014)."""

from datetime import datetime

from sqlalchemy import CheckConstraint, Index
from sqlalchemy.orm import Mapped

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    TextKey,
    created_at_column,
    customer_foreign_key,
)


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (
        customer_foreign_key(),
        CheckConstraint(
            "consent_type IN ('newsletter', 'rfm_tracking', 'referrals')", name="type_known"
        ),
        CheckConstraint("status IN ('granted', 'revoked')", name="status_known"),
        CheckConstraint(
            "source IN ('widget', 'import', 'shopify_accepts_marketing', 'staff')",
            name="source_known",
        ),
        Index(
            "ix_consents_customer_type", "merchant_id", "customer_id", "consent_type", "created_at"
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[TextKey]
    id: Mapped[TextKey]
    customer_id: Mapped[str]
    consent_type: Mapped[str]
    status: Mapped[str]
    source: Mapped[str]
    # Which version of the consent text the customer was shown.
    text_version: Mapped[str | None]
    # HMAC of the IP under the blind-index key: proves the same address, reveals none.
    ip_hash: Mapped[str | None]
    created_at: Mapped[datetime] = created_at_column()
