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

from db.partitions import hash_partitions, tenant_isolation
from db.session import APP_ROLE

revision = "0010"
down_revision = "0009"

TABLES = ("referral_programs", "referral_events", "referrals", "referral_rewards")


def _now(name: str) -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
    )


def _references(table: str, columns: list[str], target: str, name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        columns,
        [f"{target}.merchant_id", f"{target}.id"],
        ondelete="CASCADE",
        name=f"fk_{table}_{name}",
    )


def upgrade() -> None:
    op.create_table(
        "referral_programs",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("config", JSONB, nullable=False),
        sa.Column("alert_webhook_encrypted", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("merchant_id", name="pk_referral_programs"),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            ondelete="CASCADE",
            name="fk_referral_programs_merchant_id_merchants",
        ),
        postgresql_partition_by="HASH (merchant_id)",
    )
    op.create_table(
        "referral_events",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("link_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("visitor_hash", sa.Text, nullable=False),
        sa.Column("ip_hash", sa.Text),
        sa.Column("user_agent_hash", sa.Text),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("channel", sa.Text),
        _now("created_at"),
        sa.PrimaryKeyConstraint("merchant_id", "id", name="pk_referral_events"),
        _references(
            "referral_events",
            ["merchant_id", "link_id"],
            "referral_links",
            "merchant_id_link_id_referral_links",
        ),
        sa.CheckConstraint("kind IN ('click', 'share')", name="kind_known"),
        postgresql_partition_by="HASH (merchant_id)",
    )
    op.create_index(
        "uq_referral_events_daily_click",
        "referral_events",
        ["merchant_id", "link_id", "visitor_hash", "day"],
        unique=True,
        postgresql_where=sa.text("kind = 'click'"),
    )
    op.create_index("ix_referral_events_merchant_day", "referral_events", ["merchant_id", "day"])
    op.create_table(
        "referrals",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("id", sa.Text, nullable=False),
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
        _now("created_at"),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("merchant_id", "id", name="pk_referrals"),
        _references(
            "referrals",
            ["merchant_id", "advocate_customer_id"],
            "customers",
            "merchant_id_advocate_customer_id_customers",
        ),
        _references(
            "referrals",
            ["merchant_id", "friend_customer_id"],
            "customers",
            "merchant_id_friend_customer_id_customers",
        ),
        _references(
            "referrals",
            ["merchant_id", "link_id"],
            "referral_links",
            "merchant_id_link_id_referral_links",
        ),
        sa.UniqueConstraint(
            "merchant_id", "friend_customer_id", name="uq_referrals_merchant_id_friend_customer_id"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'completed', 'expired', 'rejected')",
            name="status_known",
        ),
        sa.CheckConstraint("advocate_customer_id <> friend_customer_id", name="not_self"),
        sa.CheckConstraint("fraud_score BETWEEN 0 AND 1", name="fraud_score_range"),
        postgresql_partition_by="HASH (merchant_id)",
    )
    op.create_index(
        "ix_referrals_advocate", "referrals", ["merchant_id", "advocate_customer_id", "status"]
    )
    op.create_table(
        "referral_rewards",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("referral_id", sa.Text, nullable=False),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("points", sa.BigInteger),
        sa.Column("value", sa.Numeric(12, 2)),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("release_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True)),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("merchant_id", "id", name="pk_referral_rewards"),
        _references(
            "referral_rewards",
            ["merchant_id", "referral_id"],
            "referrals",
            "merchant_id_referral_id_referrals",
        ),
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
        postgresql_partition_by="HASH (merchant_id)",
    )
    op.create_index(
        "ix_referral_rewards_due",
        "referral_rewards",
        ["release_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    for table in TABLES:
        for statement in hash_partitions(table) + tenant_isolation(table):
            op.execute(statement)
    # Clicks and shares are a log: never changed or deleted by the app.
    op.execute(f"GRANT SELECT, INSERT ON referral_events TO {APP_ROLE}")
    for table in ("referral_programs", "referrals", "referral_rewards"):
        op.execute(f"GRANT SELECT, INSERT, UPDATE ON {table} TO {APP_ROLE}")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
