"""The points ledger: the truth from which every balance is derived."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    TextKey,
    created_at_column,
    customer_foreign_key,
)


class PointsTransactionKind(enum.StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    EXPIRE = "expire"
    ADJUST = "adjust"
    IMPORT = "import"
    REFERRAL = "referral"
    CAMPAIGN = "campaign"
    REVERSE = "reverse"
    REFUND = "refund"


_CREDIT_KINDS = "('import', 'referral', 'campaign', 'refund')"
_DEBIT_KINDS = "('redeem', 'expire')"


class PointsTransaction(Base):
    """One signed change of a customer's balance; ``points`` > 0 credits, < 0 debits."""

    __tablename__ = "points_transactions"
    __table_args__ = (
        customer_foreign_key(),
        # One business event changes the ledger at most once.
        UniqueConstraint("merchant_id", "idempotency_key"),
        CheckConstraint(
            "kind IN ('earn', 'redeem', 'expire', 'adjust', 'import', 'referral', 'campaign',"
            " 'reverse', 'refund')",
            name="kind_known",
        ),
        CheckConstraint(
            f"(kind IN {_CREDIT_KINDS} AND points > 0) OR (kind IN {_DEBIT_KINDS} AND points < 0)"
            " OR (kind = 'earn' AND points >= 0)"
            " OR (kind = 'adjust' AND points <> 0) OR (kind = 'reverse' AND points <= 0)",
            name="points_sign_matches_kind",
        ),
        CheckConstraint(
            "remaining_points IS NULL OR (points > 0 AND remaining_points BETWEEN 0 AND points)",
            name="lot_within_credit",
        ),
        Index(
            "ix_points_transactions_customer_history",
            "merchant_id",
            "customer_id",
            "created_at",
            "id",
        ),
        # One earn per order, whichever webhook or API call comes first.
        Index(
            "uq_points_transactions_order_earn",
            "merchant_id",
            "order_id",
            unique=True,
            postgresql_where=text("kind = 'earn' AND order_id IS NOT NULL"),
        ),
        Index(
            "ix_points_transactions_order",
            "merchant_id",
            "order_id",
            "created_at",
            postgresql_where=text("order_id IS NOT NULL"),
        ),
        # Analytics reads a merchant's ledger by time, across customers (points flow, the
        # liability as of an instant): index-only, kind and points carried (migration 0024).
        Index(
            "ix_points_transactions_time",
            "merchant_id",
            "created_at",
            postgresql_include=["kind", "points"],
        ),
        Index(
            "ix_points_transactions_open_lots",
            "merchant_id",
            "expires_at",
            "customer_id",
            postgresql_where=text("remaining_points > 0"),
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[TextKey]
    id: Mapped[TextKey]
    customer_id: Mapped[str]
    kind: Mapped[str]
    points: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str]
    order_id: Mapped[str | None]
    idempotency_key: Mapped[str]
    source: Mapped[str | None]
    currency: Mapped[str | None]
    # The decision trace: every rule, campaign and multiplier applied or skipped, and why.
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    # Credits only: points of this credit not yet spent or expired ("lot"). Debits consume lots
    # oldest-expiring first; the sum over a customer's lots always equals the balance.
    remaining_points: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[str | None]
    created_at: Mapped[datetime] = created_at_column()
