"""Deletions: which rows a merchant deleted for good, so that a delete is safe to retry.

A retried ``campaignDelete`` or ``vipTierDelete`` (a timeout, a Zapier re-run) finds no row
any more; this record lets it answer success with the same ``deletedId`` instead of
NOT_FOUND, while an id that never was the merchant's stays NOT_FOUND. One row per deleted
entity; tables whose rows are soft-deleted (rewards' ``deleted_at``) need none.
"""

from datetime import datetime

from sqlalchemy.orm import Mapped

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    MerchantKey,
    TextKey,
    created_at_column,
)


class Deletion(Base):
    __tablename__ = "deletions"
    __table_args__ = (HASH_PARTITIONED_BY_MERCHANT,)

    merchant_id: Mapped[MerchantKey]
    # The entity's GraphQL type name (BonusCampaign, VipTier): ids are unique per table only.
    entity: Mapped[TextKey]
    entity_id: Mapped[TextKey]
    deleted_at: Mapped[datetime] = created_at_column()
