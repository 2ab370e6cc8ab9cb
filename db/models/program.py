"""A merchant's points program configuration: one validated JSON document per merchant."""

from datetime import datetime
from typing import Any

from sqlalchemy import Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, MerchantKey, created_at_column, updated_at_column


class ProgramSettings(Base):
    __tablename__ = "program_settings"
    __table_args__ = ({"postgresql_partition_by": "HASH (merchant_id)"},)

    merchant_id: Mapped[MerchantKey]
    # Validated by the points service before it is written; read back through the same model.
    config: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The Klaviyo / Postscript API key, AES-256-GCM encrypted (db.crypto).
    notification_api_key_encrypted: Mapped[str | None]
    # Bumped on every update, so a stale dashboard cannot overwrite newer settings.
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
