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

from db import ddl

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    ddl.create_tenant_table(
        "referral_shares",
        *ddl.entity_key(),
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
        ddl.now_column("next_attempt_at"),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        *ddl.timestamps(),
        ddl.customer_foreign_key("advocate_customer_id"),
        ddl.tenant_foreign_key("link_id", "referral_links"),
        sa.UniqueConstraint(
            "merchant_id",
            "advocate_customer_id",
            "idempotency_key",
            name="uq_referral_shares_advocate_idempotency_key",
        ),
        sa.CheckConstraint("channel IN ('email', 'sms', 'whatsapp')", name="channel_known"),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name="status_known"),
        # DELETE: a customer's erasure (customers/redact) deletes the shares they made.
        grant="SELECT, INSERT, UPDATE, DELETE",
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
    op.drop_table("referral_shares")
