"""Customers of a merchant, hash-partitioned by merchant_id."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Numeric,
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
    created_at_column,
)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("merchant_id", "email_blind_index"),
        UniqueConstraint("merchant_id", "shopify_customer_id"),
        CheckConstraint("points_balance >= 0", name="points_balance_not_negative"),
        CheckConstraint("total_spent >= 0", name="total_spent_not_negative"),
        CheckConstraint("churn_score BETWEEN 0 AND 1", name="churn_score_range"),
        CheckConstraint(
            "lifecycle_stage IN ('new_lead', 'one_time_buyer', 'repeat_buyer', 'vip', 'churned')",
            name="lifecycle_stage_known",
        ),
        # The customer list's sort keys (id breaks ties, as in the cursors).
        Index("ix_customers_created_at", "merchant_id", "created_at", "id"),
        Index("ix_customers_points_balance", "merchant_id", "points_balance", "id"),
        Index(
            "ix_customers_churn_score",
            "merchant_id",
            "churn_score",
            postgresql_where=text("churn_score IS NOT NULL"),
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    shopify_customer_id: Mapped[str | None]
    # AES-256-GCM ciphertext (db.crypto); lookups go through the HMAC blind index.
    email_encrypted: Mapped[str]
    email_blind_index: Mapped[str]
    phone_encrypted: Mapped[str | None]
    locale: Mapped[str] = mapped_column(Text, server_default="en")
    country_code: Mapped[str | None]
    # Projection of the ledger, updated in the same transaction as every ledger row.
    points_balance: Mapped[int] = mapped_column(BigInteger, server_default="0")
    total_points_earned: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # Order facts the earning rules and tier rules read, kept with the ledger (shop currency).
    total_spent: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default="0")
    orders_count: Mapped[int] = mapped_column(BigInteger, server_default="0")
    first_order_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_activity_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rfm_score: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    rfm_segment: Mapped[str | None]
    # Analytics' churn model: the probability of no order in the next 90 days, and the stage.
    churn_score: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    lifecycle_stage: Mapped[str | None]
    vip_tier_id: Mapped[str | None]
    created_at: Mapped[datetime] = created_at_column()
    # Set by a GDPR erasure (customers/redact): personal fields read as null from then on.
    redacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
