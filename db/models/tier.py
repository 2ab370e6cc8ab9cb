"""VIP tiers: ranked rules over a customer's points, spend and RFM score."""

from typing import Any

from sqlalchemy import CheckConstraint, Integer, UniqueConstraint
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


class VipTier(IdempotentCreate, Versioned, Timestamps, Base):
    __tablename__ = "vip_tiers"
    __table_args__ = (
        UniqueConstraint("merchant_id", "rank"),
        CheckConstraint("name ? 'en'", name="name_has_english"),
        *idempotent_create_constraints(),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    # Localized names: {"en": "Gold", "fr": "Or", ...}; English is required as the fallback.
    name: Mapped[dict[str, str]] = mapped_column(JSONB)
    # Higher rank wins when a customer qualifies for several tiers.
    rank: Mapped[int] = mapped_column(Integer)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB)
    benefits: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
