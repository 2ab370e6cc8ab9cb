"""Merchant referrals: a shop that installed LoyalNest with another shop's merchant referral
code. One row per referred shop, in the referred shop's partition (a shop is referred once:
its ``merchant_id`` is unique), with each side's reward as a recorded entitlement.

Both parties read the row under row-level security: the referred shop as its tenant, the
advocate through a second, read-only policy on ``advocate_merchant_id`` (migration 0019).
"""

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    MerchantKey,
    TextKey,
    created_at_column,
)


class MerchantReferral(Base):
    __tablename__ = "merchant_referrals"
    __table_args__ = (
        # A shop is referred once (the partition key alone, so Postgres can enforce it).
        UniqueConstraint("merchant_id"),
        CheckConstraint("status IN ('pending', 'completed', 'expired')", name="status_known"),
        CheckConstraint("advocate_merchant_id <> merchant_id", name="not_self"),
        CheckConstraint(
            "advocate_reward_months BETWEEN 1 AND 12 AND referred_reward_months BETWEEN 1 AND 12",
            name="rewards_in_range",
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    # The referred shop.
    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    advocate_merchant_id: Mapped[str] = mapped_column(
        Text, ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    # Copied at completion: neither side may read the other's merchants row.
    advocate_shop_domain: Mapped[str]
    referred_shop_domain: Mapped[str]
    status: Mapped[str]
    # Months of LoyalNest credit each side is entitled to (billing is not LoyalNest's yet).
    advocate_reward_months: Mapped[int] = mapped_column(Integer)
    referred_reward_months: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
