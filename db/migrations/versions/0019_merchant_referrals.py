"""Merchant referrals (``merchant_referrals``): a shop installed with another shop's merchant
referral code, and each side's reward. In the referred shop's partition; the advocate reads
its rows through a second, read-only row-level security policy."""

import sqlalchemy as sa
from alembic import op

from db import ddl
from db.partitions import TENANT_SETTING
from db.session import APP_ROLE

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    ddl.create_tenant_table(
        "merchant_referrals",
        *ddl.entity_key(),
        sa.Column("advocate_merchant_id", sa.Text, nullable=False),
        sa.Column("advocate_shop_domain", sa.Text, nullable=False),
        sa.Column("referred_shop_domain", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("advocate_reward_months", sa.Integer, nullable=False),
        sa.Column("referred_reward_months", sa.Integer, nullable=False),
        ddl.now_column("created_at"),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        ddl.merchant_foreign_key(),
        sa.ForeignKeyConstraint(["advocate_merchant_id"], ["merchants.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("merchant_id"),
        sa.CheckConstraint("status IN ('pending', 'completed', 'expired')", name="status_known"),
        sa.CheckConstraint("advocate_merchant_id <> merchant_id", name="not_self"),
        sa.CheckConstraint(
            "advocate_reward_months BETWEEN 1 AND 12 AND referred_reward_months BETWEEN 1 AND 12",
            name="rewards_in_range",
        ),
        # Written at install, in a system unit of work: the app role only reads.
        grant="SELECT",
    )
    op.create_index(
        "ix_merchant_referrals_advocate_merchant_id", "merchant_referrals", ["advocate_merchant_id"]
    )
    # Permissive policies add up: the referred shop sees its row (tenant_isolation), and the
    # advocate the rows naming it, read-only.
    op.execute(
        f"CREATE POLICY advocate_reads ON merchant_referrals FOR SELECT TO {APP_ROLE} "
        f"USING (advocate_merchant_id = {TENANT_SETTING})"
    )


def downgrade() -> None:
    op.drop_table("merchant_referrals")
