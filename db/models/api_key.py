"""Merchant API keys: credentials a merchant gives third-party tools (Zapier, CRMs).

Only a SHA-256 hash of the key is stored (the key is 256 random bits, so a fast hash is as
good as a slow one), with a short prefix to recognise it in lists. The key carries its
merchant id (``lnk_<merchant id>_<secret>``), so checking one is a lookup by
(merchant_id, key_hash) inside that merchant's tenant transaction: the table is partitioned
and row-level secured like every tenant table, and no cross-tenant index is needed.
"""

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    MerchantKey,
    TextKey,
    created_at_column,
)


class MerchantApiKey(Base):
    __tablename__ = "merchant_api_keys"
    __table_args__ = (
        UniqueConstraint("merchant_id", "key_hash"),
        CheckConstraint("cardinality(scopes) > 0", name="scopes_not_empty"),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    # What the merchant calls it ("Zapier"), to tell keys apart when revoking one.
    label: Mapped[str]
    # The first characters of the secret, shown as "lnk_…<prefix>"; too short to guess from.
    display_prefix: Mapped[str]
    key_hash: Mapped[str]
    # kit.permissions.Capability values the key grants.
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_by: Mapped[str | None]
    created_at: Mapped[datetime] = created_at_column()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Refreshed at most once a minute, so a busy integration does not write on every call.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
