"""Referral shares, and discount rewards for referrals.

- ``referral_shares``: an advocate's link sent to one person by email (Klaviyo), SMS
  (Postscript) or WhatsApp (Twilio), and the delivery the worker makes of it (queued, sent or
  failed, its tries and last error). The recipient is stored encrypted and as a keyed hash.
  Hash-partitioned by merchant and row-level secured like every tenant table.
- ``referral_rewards`` may be a Shopify discount code: the code (encrypted), the discount's
  Shopify id, and ``failed`` with the reason when Shopify refused it.
"""

import sqlalchemy as sa
from alembic import op

from db.partitions import hash_partitions, tenant_isolation
from db.session import APP_ROLE

revision = "0012"
down_revision = "0011"

TABLES = ("referral_shares",)


def _now(name: str) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
    )


def upgrade() -> None:
    op.create_table(
        "referral_shares",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("link_id", sa.Text, nullable=False),
        sa.Column("advocate_customer_id", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("recipient_encrypted", sa.Text, nullable=False),
        sa.Column("recipient_hash", sa.Text, nullable=False),
        sa.Column("locale", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        _now("next_attempt_at"),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("merchant_id", "id", name="pk_referral_shares"),
        sa.ForeignKeyConstraint(
            ["merchant_id", "advocate_customer_id"],
            ["customers.merchant_id", "customers.id"],
            ondelete="CASCADE",
            name="fk_referral_shares_merchant_id_advocate_customer_id_customers",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id", "link_id"],
            ["referral_links.merchant_id", "referral_links.id"],
            ondelete="CASCADE",
            name="fk_referral_shares_merchant_id_link_id_referral_links",
        ),
        sa.UniqueConstraint(
            "merchant_id",
            "advocate_customer_id",
            "idempotency_key",
            name="uq_referral_shares_advocate_idempotency_key",
        ),
        sa.CheckConstraint("channel IN ('email', 'sms', 'whatsapp')", name="channel_known"),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name="status_known"),
        postgresql_partition_by="HASH (merchant_id)",
    )
    op.create_index(
        "ix_referral_shares_advocate",
        "referral_shares",
        ["merchant_id", "advocate_customer_id", "created_at"],
    )
    op.create_index(
        "ix_referral_shares_queued",
        "referral_shares",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'queued'"),
    )
    for table in TABLES:
        for statement in hash_partitions(table) + tenant_isolation(table):
            op.execute(statement)
    # DELETE: a customer's erasure (customers/redact) deletes the shares they made.
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON referral_shares TO {APP_ROLE}")

    op.add_column("referral_rewards", sa.Column("discount_code_encrypted", sa.Text))
    op.add_column("referral_rewards", sa.Column("discount_id", sa.Text))
    op.add_column("referral_rewards", sa.Column("last_error", sa.Text))
    op.drop_constraint("ck_referral_rewards_status_known", "referral_rewards")
    op.create_check_constraint(
        "status_known",
        "referral_rewards",
        "status IN ('pending', 'held', 'issued', 'cancelled', 'failed')",
    )


def downgrade() -> None:
    op.execute("UPDATE referral_rewards SET status = 'pending' WHERE status = 'failed'")
    op.drop_constraint("ck_referral_rewards_status_known", "referral_rewards")
    op.create_check_constraint(
        "status_known", "referral_rewards", "status IN ('pending', 'held', 'issued', 'cancelled')"
    )
    for column in ("last_error", "discount_id", "discount_code_encrypted"):
        op.drop_column("referral_rewards", column)
    for table in reversed(TABLES):
        op.drop_table(table)
