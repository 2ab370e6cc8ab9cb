"""Points-expiry reminders: one per customer and expiry date, whatever the job's schedule."""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import (
    HASH_PARTITIONED_BY_MERCHANT,
    Base,
    TextKey,
    Timestamps,
    customer_foreign_key,
)


class ExpiryReminder(Timestamps, Base):
    __tablename__ = "expiry_reminders"
    __table_args__ = (
        customer_foreign_key(),
        UniqueConstraint("merchant_id", "customer_id", "expires_on"),
        CheckConstraint("status IN ('queued', 'sent', 'failed')", name="status_known"),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[TextKey]
    id: Mapped[TextKey]
    customer_id: Mapped[str]
    expires_on: Mapped[date] = mapped_column(Date)
    points: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str]
    status: Mapped[str]
    error: Mapped[str | None]
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
