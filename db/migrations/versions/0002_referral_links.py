"""Referral links."""

import sqlalchemy as sa
from alembic import op

from db import ddl

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    ddl.create_tenant_table(
        "referral_links",
        *ddl.entity_key(),
        sa.Column("advocate_customer_id", sa.Text, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("click_count", sa.Integer, nullable=False, server_default="0"),
        ddl.now_column("created_at"),
        ddl.customer_foreign_key("advocate_customer_id"),
        sa.UniqueConstraint("merchant_id", "code", name="uq_referral_links_merchant_id_code"),
        sa.UniqueConstraint(
            "merchant_id",
            "advocate_customer_id",
            name="uq_referral_links_merchant_id_advocate_customer_id",
        ),
        grant="SELECT, INSERT, UPDATE",
    )


def downgrade() -> None:
    op.drop_table("referral_links")
