"""A shop's Shopify backfill: its customers and two years of orders read once through Admin
API bulk queries (migration 0016).

One row per merchant, the state of its latest run: which step it is at, the bulk operation
of that step, its result URL and how many lines of it are written. Every batch of lines is
written in the transaction that advances ``lines_processed``, so a run stopped anywhere
continues after its last commit and never writes a line twice."""

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, MerchantKey, updated_at_column


class BackfillStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    # The shop uninstalled LoyalNest while it ran.
    STOPPED = "stopped"


class BackfillStep(enum.StrEnum):
    """In order: customers first, so orders find their customer; then RFM scores them."""

    CUSTOMERS = "customers"
    ORDERS = "orders"
    SCORING = "scoring"


class ShopifyBackfill(Base):
    __tablename__ = "shopify_backfills"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed', 'stopped')",
            name="status_known",
        ),
        CheckConstraint("step IN ('customers', 'orders', 'scoring')", name="step_known"),
        CheckConstraint("lines_processed >= 0", name="lines_not_negative"),
        {"postgresql_partition_by": "HASH (merchant_id)"},
    )

    merchant_id: Mapped[MerchantKey]
    # Bumped by every (re-)run: a job of an older run finds its run gone and stops.
    run: Mapped[int] = mapped_column(Integer, server_default="1")
    status: Mapped[str] = mapped_column(Text, server_default=BackfillStatus.QUEUED.value)
    step: Mapped[str] = mapped_column(Text, server_default=BackfillStep.CUSTOMERS.value)
    # Orders created at or after this moment are read (two years before the run started).
    orders_since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    bulk_operation_id: Mapped[str | None]
    result_url: Mapped[str | None]
    lines_processed: Mapped[int] = mapped_column(BigInteger, server_default="0")
    customers_imported: Mapped[int] = mapped_column(BigInteger, server_default="0")
    orders_imported: Mapped[int] = mapped_column(BigInteger, server_default="0")
    error: Mapped[str | None]
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = updated_at_column()
