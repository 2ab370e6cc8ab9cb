"""Churn: the per-merchant model analytics trains on the shop's own history, and the
lifecycle stages it assigns (``customers.churn_score`` / ``lifecycle_stage``, written by
analytics only)."""

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Integer, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import HASH_PARTITIONED_BY_MERCHANT, Base, MerchantKey, updated_at_column


class LifecycleStage(enum.StrEnum):
    NEW_LEAD = "new_lead"  # signed up, never ordered
    ONE_TIME_BUYER = "one_time_buyer"
    REPEAT_BUYER = "repeat_buyer"
    VIP = "vip"  # holds a VIP tier
    CHURNED = "churned"  # likely gone: see analytics.churn.service


class ChurnModelStatus(enum.StrEnum):
    READY = "ready"
    INSUFFICIENT_HISTORY = "insufficient_history"


class ChurnModel(Base):
    __tablename__ = "churn_models"
    __table_args__ = (
        CheckConstraint("status IN ('ready', 'insufficient_history')", name="status_known"),
        CheckConstraint(
            "(status = 'ready') = (parameters IS NOT NULL AND auc IS NOT NULL)",
            name="ready_has_parameters",
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    status: Mapped[str]
    # Why there is no model (too little history), in words a merchant can act on.
    reason: Mapped[str | None]
    trained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Features are as of the cutoff; the label is an order in the horizon after it.
    cutoff_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    horizon_days: Mapped[int] = mapped_column(Integer)
    sample_size: Mapped[int] = mapped_column(Integer)
    churned: Mapped[int] = mapped_column(Integer)
    auc: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    # {"features": [...], "mean": [...], "scale": [...], "coefficients": [...], "intercept": x}
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = updated_at_column()
