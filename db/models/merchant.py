"""A merchant is one Shopify shop: the tenant every other row belongs to."""

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, TextKey, Timestamps


class Merchant(Timestamps, Base):
    __tablename__ = "merchants"
    __table_args__ = (
        CheckConstraint("plan IN ('free', 'starter', 'growth', 'plus')", name="plan_known"),
    )

    id: Mapped[TextKey]
    shop_domain: Mapped[str] = mapped_column(Text, unique=True)
    plan: Mapped[str] = mapped_column(Text, server_default="free")
    # Shopify Admin API access token, AES-256-GCM encrypted (db.crypto); null until OAuth install.
    api_token_encrypted: Mapped[str | None]
    # Set by app/uninstalled; the data stays until Shopify's shop/redact (48 hours later).
    uninstalled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
