"""Bonus campaigns: time-boxed multipliers, goal-spend bonuses and reward discounts."""

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    IdempotentCreate,
    MerchantKey,
    TextKey,
    Timestamps,
    Versioned,
    idempotent_create_constraints,
)


class CampaignKind(enum.StrEnum):
    DOUBLE_POINTS = "double_points"
    GOAL_SPEND = "goal_spend"
    DISCOUNT = "discount"


class BonusCampaign(IdempotentCreate, Versioned, Timestamps, Base):
    __tablename__ = "bonus_campaigns"
    __table_args__ = (
        CheckConstraint("kind IN ('double_points', 'goal_spend', 'discount')", name="kind_known"),
        CheckConstraint("multiplier >= 1", name="multiplier_at_least_one"),
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint(
            "(kind = 'double_points' AND multiplier > 1)"
            " OR (kind = 'goal_spend' AND goal_amount > 0 AND bonus_points > 0)"
            " OR (kind = 'discount' AND discount_percent > 0 AND discount_percent < 100)",
            name="terms_match_kind",
        ),
        Index("ix_bonus_campaigns_window", "merchant_id", "kind", "ends_at"),
        # Ledger traces name campaigns (campaign:<name>): one name, one campaign.
        UniqueConstraint("merchant_id", "name"),
        *idempotent_create_constraints(),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    name: Mapped[str]
    kind: Mapped[str]
    multiplier: Mapped[Decimal] = mapped_column(Numeric(10, 2), server_default="1")
    goal_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    bonus_points: Mapped[int | None] = mapped_column(Integer)
    # Percent off rewards' points cost while the campaign runs.
    discount_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # {"rfm_segments": ["Champions"], "regions": ["EU", "CA"]}: all listed conditions must hold.
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
