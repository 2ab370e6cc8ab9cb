"""Referral links."""

import sqlalchemy as sa
from alembic import op

from db.partitions import hash_partitions, tenant_isolation
from db.session import APP_ROLE

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "referral_links",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("advocate_customer_id", sa.Text, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("click_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.PrimaryKeyConstraint("merchant_id", "id", name="pk_referral_links"),
        sa.ForeignKeyConstraint(
            ["merchant_id", "advocate_customer_id"],
            ["customers.merchant_id", "customers.id"],
            ondelete="CASCADE",
            name="fk_referral_links_merchant_id_advocate_customer_id_customers",
        ),
        sa.UniqueConstraint("merchant_id", "code", name="uq_referral_links_merchant_id_code"),
        sa.UniqueConstraint(
            "merchant_id",
            "advocate_customer_id",
            name="uq_referral_links_merchant_id_advocate_customer_id",
        ),
        postgresql_partition_by="HASH (merchant_id)",
    )
    for statement in hash_partitions("referral_links") + tenant_isolation("referral_links"):
        op.execute(statement)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON referral_links TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_table("referral_links")
