"""Daily ROI snapshots (``roi_metrics``): per shop and UTC day, the day's program return and
the points liability as of the day's end, replaced when the day is computed again."""

import sqlalchemy as sa
from alembic import op

from db import ddl

revision = "0021"
down_revision = "0020"


def _counts(*names: str) -> list[sa.Column[int]]:
    return [sa.Column(name, sa.BigInteger, nullable=False) for name in names]


def _amounts(*names: str) -> list[sa.Column[object]]:
    return [sa.Column(name, sa.Numeric, nullable=False) for name in names]


def upgrade() -> None:
    ddl.create_tenant_table(
        "roi_metrics",
        ddl.merchant_id_column(),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        *_counts("orders"),
        *_amounts("revenue"),
        *_counts("influenced_orders"),
        *_amounts("influenced_revenue"),
        *_counts("referral_orders"),
        *_amounts("referral_revenue"),
        *_counts("vip_orders", "vip_customers"),
        *_amounts("vip_revenue"),
        *_counts("member_orders", "member_customers"),
        *_amounts("member_revenue"),
        *_counts(
            "points_issued",
            "points_reversed",
            "points_redeemed",
            "points_expired",
            "outstanding_points",
        ),
        sa.Column("value_per_point", sa.Numeric),
        sa.Column("value_basis", sa.Text, nullable=False),
        *_counts("lifetime_issued", "lifetime_reversed", "lifetime_redeemed", "lifetime_expired"),
        ddl.now_column("computed_at"),
        sa.PrimaryKeyConstraint("merchant_id", "day"),
        ddl.merchant_foreign_key(),
        sa.CheckConstraint(
            "value_basis IN ('redemptions', 'catalog', 'none')", name="value_basis_known"
        ),
        sa.CheckConstraint(
            "(value_basis = 'none') = (value_per_point IS NULL)", name="value_with_basis"
        ),
        grant="SELECT, INSERT, UPDATE",
    )


def downgrade() -> None:
    op.drop_table("roi_metrics")
