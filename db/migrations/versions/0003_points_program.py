"""The points program: settings, explained ledger with expiring lots, rewards and redemptions,
VIP tiers, bonus campaigns, expiry reminders.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from db import ddl

revision = "0003"
down_revision = "0002"

_CREDIT_KINDS = "('import', 'referral', 'campaign', 'refund')"
_DEBIT_KINDS = "('redeem', 'expire')"


# Every table of this revision: a tenant table the app role may read and write in full.
_ALL = "SELECT, INSERT, UPDATE, DELETE"


def upgrade() -> None:
    # Facts the calculation and the tier rules read; all maintained with the ledger.
    op.add_column("customers", sa.Column("locale", sa.Text, nullable=False, server_default="en"))
    op.add_column("customers", sa.Column("phone_encrypted", sa.Text))
    op.add_column("customers", sa.Column("country_code", sa.Text))
    op.add_column("customers", sa.Column("rfm_segment", sa.Text))
    op.add_column(
        "customers",
        sa.Column("total_spent", sa.Numeric(14, 2), nullable=False, server_default="0"),
    )
    op.add_column(
        "customers", sa.Column("orders_count", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column("customers", sa.Column("first_order_at", sa.DateTime(timezone=True)))
    op.add_column("customers", sa.Column("last_activity_at", sa.DateTime(timezone=True)))
    op.add_column("customers", sa.Column("vip_tier_id", sa.Text))
    op.create_check_constraint("total_spent_not_negative", "customers", "total_spent >= 0")

    # The ledger explains itself: the decision trace, and for credits the points still unspent
    # ("lot"), which debits consume oldest first and expiry takes when the lot's date passes.
    op.add_column("points_transactions", sa.Column("source", sa.Text))
    op.add_column("points_transactions", sa.Column("currency", sa.Text))
    op.add_column(
        "points_transactions",
        sa.Column("explanation", JSONB, nullable=False, server_default="{}"),
    )
    op.add_column("points_transactions", sa.Column("remaining_points", sa.Integer))
    op.add_column("points_transactions", sa.Column("actor_id", sa.Text))
    op.drop_constraint("ck_points_transactions_kind_known", "points_transactions")
    op.drop_constraint("ck_points_transactions_points_sign_matches_kind", "points_transactions")
    op.create_check_constraint(
        "kind_known",
        "points_transactions",
        "kind IN ('earn', 'redeem', 'expire', 'adjust', 'import', 'referral', 'campaign',"
        " 'reverse', 'refund')",
    )
    # A reversal may take 0 points (everything already spent) and still be recorded, so the
    # order cannot be clawed back twice and the trace says why nothing was taken. Likewise an
    # earn may be 0 points: the row answers "why did this order earn nothing?".
    op.create_check_constraint(
        "points_sign_matches_kind",
        "points_transactions",
        f"(kind IN {_CREDIT_KINDS} AND points > 0) OR (kind IN {_DEBIT_KINDS} AND points < 0)"
        " OR (kind = 'earn' AND points >= 0)"
        " OR (kind = 'adjust' AND points <> 0) OR (kind = 'reverse' AND points <= 0)",
    )
    op.create_check_constraint(
        "lot_within_credit",
        "points_transactions",
        "remaining_points IS NULL OR (points > 0 AND remaining_points BETWEEN 0 AND points)",
    )
    # One earn per order, whichever webhook or API call comes first.
    op.create_index(
        "uq_points_transactions_order_earn",
        "points_transactions",
        ["merchant_id", "order_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'earn' AND order_id IS NOT NULL"),
    )
    op.create_index(
        "ix_points_transactions_order",
        "points_transactions",
        ["merchant_id", "order_id", "created_at"],
        postgresql_where=sa.text("order_id IS NOT NULL"),
    )
    op.create_index(
        "ix_points_transactions_open_lots",
        "points_transactions",
        ["merchant_id", "expires_at", "customer_id"],
        postgresql_where=sa.text("remaining_points > 0"),
    )

    ddl.create_settings_table(
        "program_settings",
        sa.Column("notification_api_key_encrypted", sa.Text),
        grant=_ALL,
        merchant_fk=ddl.merchant_foreign_key("fk_program_settings_merchant_id"),
    )

    ddl.create_tenant_table(
        "rewards",
        *ddl.entity_key(),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("points_cost", sa.Integer, nullable=False),
        sa.Column("value", sa.Numeric(12, 2)),
        sa.Column("product_id", sa.Text),
        sa.Column("min_order_amount", sa.Numeric(12, 2)),
        sa.Column("per_customer_limit", sa.Integer),
        sa.Column("starts_at", sa.DateTime(timezone=True)),
        sa.Column("ends_at", sa.DateTime(timezone=True)),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        *ddl.timestamps(),
        ddl.merchant_foreign_key("fk_rewards_merchant_id"),
        sa.CheckConstraint(
            "kind IN ('fixed_amount', 'percentage', 'free_shipping', 'free_product')",
            name="kind_known",
        ),
        sa.CheckConstraint("points_cost > 0", name="points_cost_positive"),
        sa.CheckConstraint(
            "(kind = 'fixed_amount' AND value > 0)"
            " OR (kind = 'percentage' AND value > 0 AND value <= 100)"
            " OR (kind = 'free_shipping')"
            " OR (kind = 'free_product' AND product_id IS NOT NULL)",
            name="value_matches_kind",
        ),
        sa.CheckConstraint(
            "per_customer_limit IS NULL OR per_customer_limit > 0", name="limit_positive"
        ),
        sa.CheckConstraint(
            "ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at", name="window"
        ),
        grant=_ALL,
    )

    ddl.create_tenant_table(
        "reward_redemptions",
        *ddl.entity_key(),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("reward_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("points_spent", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("code_encrypted", sa.Text, nullable=False),
        sa.Column("sandbox", sa.Boolean, nullable=False),
        sa.Column("shopify_discount_id", sa.Text),
        sa.Column("value_amount", sa.Numeric(12, 2)),
        sa.Column("currency_code", sa.Text),
        sa.Column("debit_transaction_id", sa.Text, nullable=False),
        sa.Column("refund_transaction_id", sa.Text),
        sa.Column("failure", sa.Text),
        *ddl.timestamps(),
        ddl.customer_foreign_key(),
        # No cascade: a reward with redemptions is soft-deleted, never removed.
        ddl.tenant_foreign_key("reward_id", "rewards", cascade=False),
        sa.UniqueConstraint(
            "merchant_id",
            "idempotency_key",
            name="uq_reward_redemptions_merchant_id_idempotency_key",
        ),
        sa.CheckConstraint("status IN ('pending', 'issued', 'refunded')", name="status_known"),
        sa.CheckConstraint("points_spent > 0", name="points_spent_positive"),
        sa.CheckConstraint(
            "(status = 'refunded') = (refund_transaction_id IS NOT NULL)",
            name="refunded_has_refund",
        ),
        grant=_ALL,
    )
    op.create_index(
        "ix_reward_redemptions_customer",
        "reward_redemptions",
        ["merchant_id", "customer_id", "created_at"],
    )
    op.create_index(
        "ix_reward_redemptions_pending",
        "reward_redemptions",
        ["merchant_id", "created_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )

    ddl.create_tenant_table(
        "vip_tiers",
        *ddl.entity_key(),
        sa.Column("name", JSONB, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("rules", JSONB, nullable=False),
        sa.Column("benefits", JSONB, nullable=False, server_default="{}"),
        *ddl.timestamps(),
        ddl.merchant_foreign_key("fk_vip_tiers_merchant_id"),
        sa.UniqueConstraint("merchant_id", "rank", name="uq_vip_tiers_merchant_id_rank"),
        sa.CheckConstraint("name ? 'en'", name="name_has_english"),
        grant=_ALL,
    )

    ddl.create_tenant_table(
        "bonus_campaigns",
        *ddl.entity_key(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("multiplier", sa.Numeric(10, 2), nullable=False, server_default="1"),
        sa.Column("goal_amount", sa.Numeric(12, 2)),
        sa.Column("bonus_points", sa.Integer),
        sa.Column("discount_percent", sa.Numeric(5, 2)),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conditions", JSONB, nullable=False, server_default="{}"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        *ddl.timestamps(),
        ddl.merchant_foreign_key("fk_bonus_campaigns_merchant_id"),
        sa.CheckConstraint(
            "kind IN ('double_points', 'goal_spend', 'discount')", name="kind_known"
        ),
        sa.CheckConstraint("multiplier >= 1", name="multiplier_at_least_one"),
        sa.CheckConstraint("ends_at > starts_at", name="window"),
        sa.CheckConstraint(
            "(kind = 'double_points' AND multiplier > 1)"
            " OR (kind = 'goal_spend' AND goal_amount > 0 AND bonus_points > 0)"
            " OR (kind = 'discount' AND discount_percent > 0 AND discount_percent < 100)",
            name="terms_match_kind",
        ),
        grant=_ALL,
    )
    op.create_index(
        "ix_bonus_campaigns_window", "bonus_campaigns", ["merchant_id", "kind", "ends_at"]
    )

    ddl.create_tenant_table(
        "expiry_reminders",
        *ddl.entity_key(),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        *ddl.timestamps(),
        ddl.customer_foreign_key(),
        # One reminder per customer and expiry date, however often the job runs.
        sa.UniqueConstraint(
            "merchant_id",
            "customer_id",
            "expires_on",
            name="uq_expiry_reminders_merchant_id_customer_id_expires_on",
        ),
        sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name="status_known"),
        grant=_ALL,
    )


def downgrade() -> None:
    for table in (
        "expiry_reminders",
        "bonus_campaigns",
        "vip_tiers",
        "reward_redemptions",
        "rewards",
        "program_settings",
    ):
        op.drop_table(table)
    op.drop_index("ix_points_transactions_open_lots", "points_transactions")
    op.drop_index("ix_points_transactions_order", "points_transactions")
    op.drop_index("uq_points_transactions_order_earn", "points_transactions")
    op.drop_constraint("ck_points_transactions_lot_within_credit", "points_transactions")
    op.drop_constraint("ck_points_transactions_points_sign_matches_kind", "points_transactions")
    op.drop_constraint("ck_points_transactions_kind_known", "points_transactions")
    # Ledger rows are never deleted to make a downgrade fit: refuse instead.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM points_transactions WHERE kind IN "
        "('reverse', 'refund')) THEN RAISE EXCEPTION 'ledger has reverse/refund rows: "
        "0003 cannot be downgraded without losing them'; END IF; END $$"
    )
    op.create_check_constraint(
        "kind_known",
        "points_transactions",
        "kind IN ('earn', 'redeem', 'expire', 'adjust', 'import', 'referral', 'campaign')",
    )
    op.create_check_constraint(
        "points_sign_matches_kind",
        "points_transactions",
        "(kind IN ('earn', 'import', 'referral', 'campaign') AND points > 0)"
        " OR (kind IN ('redeem', 'expire') AND points < 0)"
        " OR (kind = 'adjust' AND points <> 0)",
    )
    for column in ("actor_id", "remaining_points", "explanation", "currency", "source"):
        op.drop_column("points_transactions", column)
    op.drop_constraint("ck_customers_total_spent_not_negative", "customers")
    for column in (
        "vip_tier_id",
        "last_activity_at",
        "first_order_at",
        "orders_count",
        "total_spent",
        "rfm_segment",
        "country_code",
        "phone_encrypted",
        "locale",
    ):
        op.drop_column("customers", column)
