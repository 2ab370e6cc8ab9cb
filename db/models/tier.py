"""VIP tiers: ranked rules over a customer's points, spend and RFM score."""

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Integer, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    Base,
    MerchantKey,
    TextKey,
    created_at_column,
    idempotent_create_constraints,
    updated_at_column,
)


class VipTier(Base):
    __tablename__ = "vip_tiers"
    __table_args__ = (
        UniqueConstraint("merchant_id", "rank"),
        CheckConstraint("name ? 'en'", name="name_has_english"),
        *idempotent_create_constraints(),
        {"postgresql_partition_by": "HASH (merchant_id)"},
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    # Localized names: {"en": "Gold", "fr": "Or", ...}; English is required as the fallback.
    name: Mapped[dict[str, str]] = mapped_column(JSONB)
    # Higher rank wins when a customer qualifies for several tiers.
    rank: Mapped[int] = mapped_column(Integer)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB)
    benefits: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    # The create request's key and input fingerprint (None for rows made before 0008).
    idempotency_key: Mapped[str | None]
    idempotency_fingerprint: Mapped[str | None]
    created_at: Mapped[datetime] = created_at_column()
    # Bumped by every update; an update may name the version it read (expectedVersion).
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[datetime] = updated_at_column()
