"""Daily ROI snapshots (``roi_metrics``): one row per shop and UTC day, written by analytics'
nightly job (and its backfill), with that day's program return and the points liability as
of the day's end. A re-run of a day replaces its row: the row is what the ledger and the
order facts said of the day when it was last computed."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Numeric, func
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import HASH_PARTITIONED_BY_MERCHANT, Base, MerchantKey


def _count() -> Mapped[int]:
    return mapped_column(BigInteger)


def _amount() -> Mapped[Decimal]:
    # Unbounded: a sum of a day's orders, in the shop currency.
    return mapped_column(Numeric)


class RoiMetrics(Base):
    __tablename__ = "roi_metrics"
    __table_args__ = (
        CheckConstraint(
            "value_basis IN ('redemptions', 'catalog', 'none')", name="value_basis_known"
        ),
        CheckConstraint(
            "(value_basis = 'none') = (value_per_point IS NULL)", name="value_with_basis"
        ),
        HASH_PARTITIONED_BY_MERCHANT,
    )

    merchant_id: Mapped[MerchantKey]
    # The UTC calendar day: its program return is of [day, day + 1), its liability as of
    # day + 1 at 00:00 UTC.
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str]
    orders: Mapped[int] = _count()
    revenue: Mapped[Decimal] = _amount()
    influenced_orders: Mapped[int] = _count()
    influenced_revenue: Mapped[Decimal] = _amount()
    referral_orders: Mapped[int] = _count()
    referral_revenue: Mapped[Decimal] = _amount()
    # Each group's orders, customers and revenue (its AOV and frequency follow from them).
    vip_orders: Mapped[int] = _count()
    vip_customers: Mapped[int] = _count()
    vip_revenue: Mapped[Decimal] = _amount()
    member_orders: Mapped[int] = _count()
    member_customers: Mapped[int] = _count()
    member_revenue: Mapped[Decimal] = _amount()
    points_issued: Mapped[int] = _count()
    points_reversed: Mapped[int] = _count()
    points_redeemed: Mapped[int] = _count()
    points_expired: Mapped[int] = _count()
    outstanding_points: Mapped[int] = _count()
    # Exact (the liability multiplies it by every point held), so the stored day gives the
    # same liability to the cent as the day's computation did.
    value_per_point: Mapped[Decimal | None] = mapped_column(Numeric)
    # analytics.roi.service.ValueBasis: where the value of a point came from.
    value_basis: Mapped[str]
    lifetime_issued: Mapped[int] = _count()
    lifetime_reversed: Mapped[int] = _count()
    lifetime_redeemed: Mapped[int] = _count()
    lifetime_expired: Mapped[int] = _count()
    computed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
