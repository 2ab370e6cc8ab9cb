"""The points ledger: the truth from which every balance is derived."""

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, created_at_column


class PointsTransactionKind(enum.StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    EXPIRE = "expire"
    ADJUST = "adjust"
    IMPORT = "import"
    REFERRAL = "referral"
    CAMPAIGN = "campaign"


_CREDIT_KINDS = "('earn', 'import', 'referral', 'campaign')"
_DEBIT_KINDS = "('redeem', 'expire')"


class PointsTransaction(Base):
    """One signed change of a customer's balance; ``points`` > 0 credits, < 0 debits."""

    __tablename__ = "points_transactions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["merchant_id", "customer_id"],
            ["customers.merchant_id", "customers.id"],
            ondelete="CASCADE",
        ),
        # One business event changes the ledger at most once.
        UniqueConstraint("merchant_id", "idempotency_key"),
        CheckConstraint(
            "kind IN ('earn', 'redeem', 'expire', 'adjust', 'import', 'referral', 'campaign')",
            name="kind_known",
        ),
        CheckConstraint(
            f"(kind IN {_CREDIT_KINDS} AND points > 0) OR (kind IN {_DEBIT_KINDS} AND points < 0)"
            " OR (kind = 'adjust' AND points <> 0)",
            name="points_sign_matches_kind",
        ),
        Index(
            "ix_points_transactions_customer_history",
            "merchant_id",
            "customer_id",
            "created_at",
            "id",
        ),
        {"postgresql_partition_by": "HASH (merchant_id)"},
    )

    merchant_id: Mapped[str] = mapped_column(Text, primary_key=True)
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    customer_id: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    points: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    order_id: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
