"""Merchants, customers, the points ledger, audit and API logs."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from db import ddl
from db.partitions import MAINTAIN_LOG_PARTITIONS_FUNCTION
from db.session import APP_ROLE

revision = "0001"
down_revision = None


def upgrade() -> None:
    # The role the subgraphs switch to per transaction; it is subject to row-level security.
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN NOBYPASSRLS;
            END IF;
        END $$
        """
    )
    op.execute(f"GRANT {APP_ROLE} TO CURRENT_USER")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")

    op.create_table(
        "merchants",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("shop_domain", sa.Text, nullable=False),
        sa.Column("plan", sa.Text, nullable=False, server_default="free"),
        sa.Column("api_token_encrypted", sa.Text),
        *ddl.timestamps(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_domain", name="uq_merchants_shop_domain"),
        sa.CheckConstraint("plan IN ('free', 'starter', 'growth', 'plus')", name="plan_known"),
    )
    ddl.secure_by_tenant("merchants", tenant_column="id")
    ddl.grant_to_app("SELECT, INSERT, UPDATE, DELETE", "merchants")

    ddl.create_tenant_table(
        "customers",
        *ddl.entity_key(),
        sa.Column("shopify_customer_id", sa.Text),
        sa.Column("email_encrypted", sa.Text, nullable=False),
        sa.Column("email_blind_index", sa.Text, nullable=False),
        sa.Column("points_balance", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total_points_earned", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rfm_score", JSONB),
        ddl.now_column("created_at"),
        ddl.merchant_foreign_key(),
        sa.UniqueConstraint(
            "merchant_id", "email_blind_index", name="uq_customers_merchant_id_email_blind_index"
        ),
        sa.UniqueConstraint(
            "merchant_id",
            "shopify_customer_id",
            name="uq_customers_merchant_id_shopify_customer_id",
        ),
        sa.CheckConstraint("points_balance >= 0", name="points_balance_not_negative"),
        grant="SELECT, INSERT, UPDATE, DELETE",
    )

    ddl.create_tenant_table(
        "points_transactions",
        *ddl.entity_key(),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("order_id", sa.Text),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        ddl.now_column("created_at"),
        ddl.customer_foreign_key(),
        sa.UniqueConstraint(
            "merchant_id",
            "idempotency_key",
            name="uq_points_transactions_merchant_id_idempotency_key",
        ),
        sa.CheckConstraint(
            "kind IN ('earn', 'redeem', 'expire', 'adjust', 'import', 'referral', 'campaign')",
            name="kind_known",
        ),
        sa.CheckConstraint(
            "(kind IN ('earn', 'import', 'referral', 'campaign') AND points > 0)"
            " OR (kind IN ('redeem', 'expire') AND points < 0)"
            " OR (kind = 'adjust' AND points <> 0)",
            name="points_sign_matches_kind",
        ),
        grant="SELECT, INSERT, UPDATE",
    )
    op.create_index(
        "ix_points_transactions_customer_history",
        "points_transactions",
        ["merchant_id", "customer_id", "created_at", "id"],
    )

    for log_table, columns in (
        (
            "audit_logs",
            [
                sa.Column("action", sa.Text, nullable=False),
                sa.Column("actor_id", sa.Text),
                sa.Column("metadata", JSONB, nullable=False, server_default="{}"),
            ],
        ),
        (
            "api_logs",
            [
                sa.Column("operation", sa.Text, nullable=False),
                sa.Column("status", sa.Text, nullable=False),
                sa.Column("duration_ms", sa.Integer, nullable=False),
            ],
        ),
    ):
        op.create_table(
            log_table,
            ddl.merchant_id_column(),
            sa.Column("id", sa.Text, nullable=False),
            ddl.now_column("created_at"),
            *columns,
            sa.PrimaryKeyConstraint("merchant_id", "id", "created_at"),
            postgresql_partition_by="RANGE (created_at)",
        )
        ddl.secure_by_tenant(log_table)
        ddl.grant_to_app("SELECT, INSERT", log_table)
    op.create_index(
        "ix_audit_logs_merchant_action", "audit_logs", ["merchant_id", "action", "created_at"]
    )
    op.create_index("ix_api_logs_merchant_created", "api_logs", ["merchant_id", "created_at"])

    op.execute(MAINTAIN_LOG_PARTITIONS_FUNCTION)
    op.execute("SELECT * FROM loyalnest_maintain_log_partitions()")


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS loyalnest_maintain_log_partitions(integer, interval, timestamptz)"
    )
    for table in ("api_logs", "audit_logs", "points_transactions", "customers", "merchants"):
        op.drop_table(table)
