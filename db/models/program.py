"""A merchant's points program configuration: one validated JSON document per merchant."""

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import HASH_PARTITIONED_BY_MERCHANT, Base, MerchantKey, SettingsDocument


class ProgramSettings(SettingsDocument, Base):
    """The points program (validated by the points service); ``version`` keeps a stale
    dashboard from overwriting newer settings."""

    __tablename__ = "program_settings"

    # The Klaviyo / Postscript API key, AES-256-GCM encrypted (db.crypto).
    notification_api_key_encrypted: Mapped[str | None]


class ProgramVersion(Base):
    """What the points calculation reads of a merchant besides the customer (program settings,
    bonus campaigns, VIP tiers) as one counter: triggers bump it on every change of those
    tables (migration 0025), so a cache of them is good while it stands still."""

    __tablename__ = "program_versions"
    __table_args__ = HASH_PARTITIONED_BY_MERCHANT

    merchant_id: Mapped[MerchantKey]
    # From one sequence: a rolled-back bump's value never comes back.
    version: Mapped[int] = mapped_column(BigInteger)
