"""Analytics' tables: order facts, RFM settings and segment rules, and the score history.

``orders`` is the one record of a shop's orders (DESIGN.md: "orders are facts"): written
idempotently, keyed by Shopify's order id, by every path that sees an order; analytics reads
it, never the ledger's explanations. The segment of a customer is computed from it and
projected onto ``customers.rfm_score`` / ``rfm_segment`` (docs/architecture.md, "Who owns
the RFM segment")."""

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    MerchantKey,
    SettingsDocument,
    TextKey,
    created_at_column,
    customer_foreign_key,
    updated_at_column,
)


class OrderChannel(enum.StrEnum):
    ONLINE = "online"
    POS = "pos"


class OrderFactSource(enum.StrEnum):
    """Which path recorded the order last (the richest one wins; see the upsert)."""

    WEBHOOK = "webhook"
    RECONCILIATION = "reconciliation"
    LEDGER = "ledger"  # backfilled from the points ledger's earn rows
    SEED = "seed"


class OrderFact(Base):
    __tablename__ = "orders"
    __table_args__ = (
        customer_foreign_key(),
        UniqueConstraint("merchant_id", "shopify_order_id"),
        CheckConstraint("channel IN ('online', 'pos')", name="channel_known"),
        CheckConstraint(
            "source IN ('webhook', 'reconciliation', 'ledger', 'seed')", name="source_known"
        ),
        CheckConstraint("refunded_amount >= 0", name="refunded_not_negative"),
        # RFM reads a customer's orders; the index carries what it aggregates.
        Index(
            "ix_orders_customer",
            "merchant_id",
            "customer_id",
            "created_at",
            postgresql_where=text("customer_id IS NOT NULL"),
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    shopify_order_id: Mapped[str]
    # Null for a guest order (no account, no email we could enrol).
    customer_id: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Shop currency: what RFM and ROI add up.
    currency: Mapped[str]
    subtotal: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # What the shopper saw and paid in.
    presentment_currency: Mapped[str]
    presentment_subtotal: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    presentment_total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # Shop currency; the sum of ``refunds`` (refund id -> amount), so a redelivered
    # refunds/create counts once.
    refunded_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default="0")
    refunds: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    channel: Mapped[str]
    # ISO country of the shipping (else billing, else the customer's) address.
    region: Mapped[str | None]
    discount_codes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    # The customer's VIP tier when the order was first recorded (kept by later updates).
    tier_id: Mapped[str | None]
    source: Mapped[str]
    recorded_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class RfmSettings(SettingsDocument, Base):
    """A merchant's RFM thresholds: one validated document, versioned like other settings."""

    __tablename__ = "rfm_thresholds"


class RfmShopAverage(Base):
    """The shop's orders and net total as of its last full RFM pass: the average order value a
    customer rescored between passes is scored against (``analytics.rfm``)."""

    __tablename__ = "rfm_shop_averages"
    __table_args__ = (HASH_PARTITIONED_BY_MERCHANT,)

    merchant_id: Mapped[MerchantKey]
    orders: Mapped[int] = mapped_column(BigInteger)
    # None while every order of the shop is cancelled.
    net: Mapped[Decimal | None] = mapped_column(Numeric)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CustomerSegment(Base):
    """A merchant-defined segment: score ranges (1-5, bounds inclusive, null = open) and a
    priority; a customer takes the first segment (lowest priority) whose ranges hold."""

    __tablename__ = "customer_segments"
    __table_args__ = (
        UniqueConstraint("merchant_id", "name"),
        *(
            CheckConstraint(f"{column} BETWEEN 1 AND 5", name=f"{column}_range")
            for column in (
                "recency_min",
                "recency_max",
                "frequency_min",
                "frequency_max",
                "monetary_min",
                "monetary_max",
            )
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    name: Mapped[str]
    priority: Mapped[int] = mapped_column(Integer)
    recency_min: Mapped[int | None] = mapped_column(SmallInteger)
    recency_max: Mapped[int | None] = mapped_column(SmallInteger)
    frequency_min: Mapped[int | None] = mapped_column(SmallInteger)
    frequency_max: Mapped[int | None] = mapped_column(SmallInteger)
    monetary_min: Mapped[int | None] = mapped_column(SmallInteger)
    monetary_max: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = created_at_column()


class RfmScoreHistory(Base):
    """A customer's scores each time a computation changed them."""

    __tablename__ = "rfm_score_history"
    __table_args__ = (
        customer_foreign_key(),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    customer_id: Mapped[TextKey]
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    recency: Mapped[int] = mapped_column(SmallInteger)
    frequency: Mapped[int] = mapped_column(SmallInteger)
    monetary: Mapped[int] = mapped_column(SmallInteger)
    score: Mapped[Decimal] = mapped_column(Numeric(3, 2))
    segment: Mapped[str | None]


class RfmBenchmark(Base):
    """Threshold presets by kind of shop (not a tenant table: the same for everyone). They are
    LoyalNest's defaults from the feature specification's examples, not measured industry
    data."""

    __tablename__ = "rfm_benchmarks"

    id: Mapped[TextKey]
    industry: Mapped[str] = mapped_column(Text, unique=True)
    description: Mapped[str]
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONB)
