"""Campaign suggestions: what analytics proposes when it sees customers slipping (segment
movements), with the evidence, until the merchant accepts (a campaign is created once, by the
worker) or dismisses it."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    MerchantKey,
    TextKey,
    created_at_column,
)


class SuggestionStatus(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"  # the worker creates its campaign (``campaign_id`` once it has)
    DISMISSED = "dismissed"


class CampaignSuggestion(Base):
    __tablename__ = "campaign_suggestions"
    __table_args__ = (
        # One suggestion per movement and week: the nightly pass may see it seven times.
        UniqueConstraint("merchant_id", "dedupe_key"),
        CheckConstraint("status IN ('open', 'accepted', 'dismissed')", name="status_known"),
        CheckConstraint(
            "campaign_id IS NULL OR status = 'accepted'", name="campaign_only_when_accepted"
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    id: Mapped[TextKey]
    dedupe_key: Mapped[str]
    status: Mapped[str]
    # Why: {"from_segment": "Champions", "to_segment": "At-Risk", "customers": 12, ...}
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The campaign it proposes, as the points program's campaign draft (name, kind, ...).
    proposal: Mapped[dict[str, Any]] = mapped_column(JSONB)
    campaign_id: Mapped[str | None]
    created_at: Mapped[datetime] = created_at_column()
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None]
