"""Referral links: one shareable code per advocate customer."""

from datetime import datetime

from sqlalchemy import BigInteger, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, TextKey, created_at_column, customer_foreign_key


class ReferralLink(Base):
    __tablename__ = "referral_links"
    __table_args__ = (
        customer_foreign_key("advocate_customer_id"),
        UniqueConstraint("merchant_id", "code"),
        UniqueConstraint("merchant_id", "advocate_customer_id"),
        {"postgresql_partition_by": "HASH (merchant_id)"},
    )

    merchant_id: Mapped[TextKey]
    id: Mapped[TextKey]
    advocate_customer_id: Mapped[str]
    code: Mapped[str]
    click_count: Mapped[int] = mapped_column(BigInteger, server_default="0")
    created_at: Mapped[datetime] = created_at_column()
