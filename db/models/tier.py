"""VIP tiers: ranked rules over a customer's points, spend and RFM score."""

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, created_at_column


class VipTier(Base):
    __tablename__ = "vip_tiers"
    __table_args__ = (
        UniqueConstraint("merchant_id", "rank"),
        CheckConstraint("name ? 'en'", name="name_has_english"),
        {"postgresql_partition_by": "HASH (merchant_id)"},
    )

    merchant_id: Mapped[str] = mapped_column(
        Text, ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    # Localized names: {"en": "Gold", "fr": "Or", ...}; English is required as the fallback.
    name: Mapped[dict[str, str]] = mapped_column(JSONB)
    # Higher rank wins when a customer qualifies for several tiers.
    rank: Mapped[int] = mapped_column(Integer)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB)
    benefits: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
