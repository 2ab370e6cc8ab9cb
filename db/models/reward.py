"""The rewards catalog and the redemptions customers make from it."""

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Numeric,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    IdempotentCreate,
    MerchantKey,
    TextKey,
    Timestamps,
    Versioned,
    customer_foreign_key,
    idempotent_create_constraints,
    tenant_foreign_key,
)


class RewardKind(enum.StrEnum):
    FIXED_AMOUNT = "fixed_amount"
    PERCENTAGE = "percentage"
    FREE_SHIPPING = "free_shipping"
    FREE_PRODUCT = "free_product"


class RedemptionStatus(enum.StrEnum):
    # Points are debited and the discount is being created.
    PENDING = "pending"
    ISSUED = "issued"
    # The discount could not be created; the points were credited back.
    REFUNDED = "refunded"


class Reward(IdempotentCreate, Versioned, Timestamps, Base):
    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('fixed_amount', 'percentage', 'free_shipping', 'free_product')",
            name="kind_known",
        ),
        CheckConstraint("points_cost > 0", name="points_cost_positive"),
        CheckConstraint(
            "(kind = 'fixed_amount' AND value > 0)"
            " OR (kind = 'percentage' AND value > 0 AND value <= 100)"
            " OR (kind = 'free_shipping')"
            " OR (kind = 'free_product' AND product_id IS NOT NULL)",
            name="value_matches_kind",
        ),
        CheckConstraint(
            "per_customer_limit IS NULL OR per_customer_limit > 0", name="limit_positive"
        ),
        CheckConstraint(
            "ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at", name="window"
        ),
        *idempotent_create_constraints(),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    kind: Mapped[str]
    title: Mapped[str]
    points_cost: Mapped[int] = mapped_column(Integer)
    # Shop currency amount (fixed_amount) or percent 0-100 (percentage).
    value: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    product_id: Mapped[str | None]
    min_order_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    per_customer_limit: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # Soft delete: redemptions keep pointing at the reward they were made from.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RewardRedemption(Timestamps, Base):
    __tablename__ = "reward_redemptions"
    __table_args__ = (
        customer_foreign_key(),
        # No cascade: a reward with redemptions is soft-deleted, never removed.
        tenant_foreign_key("reward_id", "rewards", cascade=False),
        UniqueConstraint("merchant_id", "idempotency_key"),
        CheckConstraint("status IN ('pending', 'issued', 'refunded')", name="status_known"),
        CheckConstraint("points_spent > 0", name="points_spent_positive"),
        CheckConstraint(
            "(status = 'refunded') = (refund_transaction_id IS NOT NULL)",
            name="refunded_has_refund",
        ),
        Index("ix_reward_redemptions_customer", "merchant_id", "customer_id", "created_at"),
        Index(
            "ix_reward_redemptions_pending",
            "merchant_id",
            "created_at",
            postgresql_where=text("status = 'pending'"),
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[TextKey]
    id: Mapped[TextKey]
    customer_id: Mapped[str]
    reward_id: Mapped[str]
    status: Mapped[str]
    points_spent: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str]
    # The discount code, AES-256-GCM encrypted (db.crypto): it is as good as money.
    code_encrypted: Mapped[str]
    # True when the code was generated locally because the shop has no Shopify connection.
    sandbox: Mapped[bool] = mapped_column(Boolean)
    shopify_discount_id: Mapped[str | None]
    value_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency_code: Mapped[str | None]
    debit_transaction_id: Mapped[str]
    refund_transaction_id: Mapped[str | None]
    failure: Mapped[str | None]
