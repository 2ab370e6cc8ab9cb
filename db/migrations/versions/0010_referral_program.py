"""The referral program: its settings, link clicks and shares, referrals, and rewards.

- ``referral_programs``: one validated settings document per merchant, versioned.
- ``referral_events``: clicks and shares of a link; visitor, IP and user agent only as keyed
  hashes. A partial unique index counts a visitor's clicks on a link once per UTC day.
- ``referrals``: a friend attributed to an advocate (one referral per friend; never the
  advocate themselves), with its fraud score and the reasons for it.
- ``referral_rewards``: what each side of a completed referral gets, released at
  ``release_at`` (the advocate's hold period), held for review when the referral is
  suspicious, cancelled when the qualifying order is refunded in time.

All hash-partitioned by merchant and row-level secured like every tenant table.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from db import ddl

revision = "0010"
down_revision = "0009"

TABLES = ("referral_programs", "referral_events", "referrals", "referral_rewards")


def upgrade() -> None:
    ddl.create_settings_table(
        "referral_programs",
        sa.Column("alert_webhook_encrypted", sa.Text),
        grant="SELECT, INSERT, UPDATE",
    )
    ddl.create_tenant_table(
        "referral_events",
        *ddl.entity_key(),
        sa.Column("link_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("visitor_hash", sa.Text, nullable=False),
        sa.Column("ip_hash", sa.Text),
        sa.Column("user_agent_hash", sa.Text),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("channel", sa.Text),
        ddl.now_column("created_at"),
        ddl.tenant_foreign_key("link_id", "referral_links"),
        sa.CheckConstraint("kind IN ('click', 'share')", name="kind_known"),
        # Clicks and shares are a log: never changed or deleted by the app.
        grant="SELECT, INSERT",
    )
    op.create_index(
        "uq_referral_events_daily_click",
        "referral_events",
        ["merchant_id", "link_id", "visitor_hash", "day"],
        unique=True,
        postgresql_where=sa.text("kind = 'click'"),
    )
    op.create_index("ix_referral_events_merchant_day", "referral_events", ["merchant_id", "day"])
    ddl.create_tenant_table(
        "referrals",
        *ddl.entity_key(),
        sa.Column("link_id", sa.Text, nullable=False),
        sa.Column("advocate_customer_id", sa.Text, nullable=False),
        sa.Column("friend_customer_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("fraud_score", sa.Numeric(4, 3), nullable=False, server_default="0"),
        sa.Column("fraud_reasons", JSONB, nullable=False, server_default="[]"),
        sa.Column("qualifying_order_id", sa.Text),
        sa.Column("qualifying_subtotal", sa.Numeric(14, 2)),
        sa.Column("refunded_amount", sa.Numeric(14, 2), nullable=False, server_default="0"),
        ddl.now_column("created_at"),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        ddl.now_column("updated_at"),
        ddl.customer_foreign_key("advocate_customer_id"),
        ddl.customer_foreign_key("friend_customer_id"),
        ddl.tenant_foreign_key("link_id", "referral_links"),
        sa.UniqueConstraint(
            "merchant_id", "friend_customer_id", name="uq_referrals_merchant_id_friend_customer_id"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'completed', 'expired', 'rejected')",
            name="status_known",
        ),
        sa.CheckConstraint("advocate_customer_id <> friend_customer_id", name="not_self"),
        sa.CheckConstraint("fraud_score BETWEEN 0 AND 1", name="fraud_score_range"),
        grant="SELECT, INSERT, UPDATE",
    )
    op.create_index(
        "ix_referrals_advocate", "referrals", ["merchant_id", "advocate_customer_id", "status"]
    )
    ddl.create_tenant_table(
        "referral_rewards",
        *ddl.entity_key(),
        sa.Column("referral_id", sa.Text, nullable=False),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("points", sa.BigInteger),
        sa.Column("value", sa.Numeric(12, 2)),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("release_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True)),
        *ddl.timestamps(),
        ddl.tenant_foreign_key("referral_id", "referrals"),
        sa.UniqueConstraint(
            "merchant_id",
            "referral_id",
            "side",
            name="uq_referral_rewards_merchant_id_referral_id_side",
        ),
        sa.CheckConstraint("side IN ('advocate', 'friend')", name="side_known"),
        sa.CheckConstraint(
            "status IN ('pending', 'held', 'issued', 'cancelled')",
            name="status_known",
        ),
        sa.CheckConstraint(
            "(kind = 'points' AND points > 0) OR (kind <> 'points' AND points IS NULL)",
            name="points_match_kind",
        ),
        grant="SELECT, INSERT, UPDATE",
    )
    op.create_index(
        "ix_referral_rewards_due",
        "referral_rewards",
        ["release_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
