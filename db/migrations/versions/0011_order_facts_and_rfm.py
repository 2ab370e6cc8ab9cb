"""Order facts and RFM: what analytics computes segments from, and where it keeps them.

- ``orders``: one row per Shopify order, upserted by every path that sees it (webhooks,
  reconciliation, the ledger backfill, the seed command).
- ``rfm_thresholds``: a merchant's RFM thresholds, one validated document, versioned.
- ``customer_segments``: merchant-defined segments (score ranges and a priority); the built-in
  ones (Champions, Loyal, New, At-Risk, Inactive) are code, not rows.
- ``rfm_score_history``: a customer's scores each time a computation changed them.
- ``rfm_benchmarks``: threshold presets, the same for every shop (LoyalNest's defaults from the
  specification's examples, not industry data); no tenant, so no row-level security.
- ``rfm_segment_counts``: a materialized view of customers per segment, refreshed concurrently
  after each full recompute. A materialized view has no row-level security, so the app role
  is granted only ``rfm_segment_counts_of_tenant``, a view that keeps the merchant of the
  transaction's ``app.merchant_id`` (tenant isolation stays twofold).

The tenant tables are hash-partitioned by merchant and row-level secured like every other.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from db import ddl
from db.partitions import TENANT_SETTING

revision = "0011"
down_revision = "0010"

TENANT_TABLES = ("orders", "rfm_thresholds", "customer_segments", "rfm_score_history")
# What the app role may do on each of them (customer_segments also DELETE, below).
TENANT_GRANT = "SELECT, INSERT, UPDATE"
SCORE_COLUMNS = (
    "recency_min",
    "recency_max",
    "frequency_min",
    "frequency_max",
    "monetary_min",
    "monetary_max",
)
# The specification's examples (Pet Store R5 <= 14 days, Electronics R5 <= 30 days, subscriptions
# with time-weighted recency), as thresholds documents of ``analytics.rfm.service``.
BENCHMARKS = (
    (
        "Default",
        "The specification's static thresholds: recency 7/30/60/90 days, frequency 2/4/7/11 "
        "orders, monetary 0.5x/1x/2x/5x the shop's average order value.",
        [7, 30, 60, 90],
        [2, 4, 7, 11],
        False,
    ),
    (
        "Pet Store",
        "Consumables bought again every few weeks: R5 within 14 days.",
        [14, 30, 60, 90],
        [2, 4, 7, 11],
        False,
    ),
    (
        "Electronics",
        "Rare, large purchases: R5 within 30 days, and fewer orders make a frequent buyer.",
        [30, 90, 180, 365],
        [2, 3, 4, 6],
        False,
    ),
    (
        "Subscription",
        "Subscription boxes: R5 within 14 days of when the customer's usual cycle was due "
        "(time-weighted recency).",
        [14, 30, 60, 90],
        [2, 4, 7, 11],
        True,
    ),
)


def upgrade() -> None:
    ddl.create_tenant_table(
        "orders",
        *ddl.entity_key(),
        sa.Column("shopify_order_id", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("subtotal", sa.Numeric(14, 2), nullable=False),
        sa.Column("total", sa.Numeric(14, 2), nullable=False),
        sa.Column("presentment_currency", sa.Text, nullable=False),
        sa.Column("presentment_subtotal", sa.Numeric(14, 2), nullable=False),
        sa.Column("presentment_total", sa.Numeric(14, 2), nullable=False),
        sa.Column("refunded_amount", sa.Numeric(14, 2), nullable=False, server_default="0"),
        sa.Column("refunds", JSONB, nullable=False, server_default="{}"),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("region", sa.Text),
        sa.Column("discount_codes", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("tier_id", sa.Text),
        sa.Column("source", sa.Text, nullable=False),
        ddl.now_column("recorded_at"),
        ddl.now_column("updated_at"),
        ddl.merchant_foreign_key(),
        ddl.customer_foreign_key(),
        sa.UniqueConstraint(
            "merchant_id", "shopify_order_id", name="uq_orders_merchant_id_shopify_order_id"
        ),
        sa.CheckConstraint("channel IN ('online', 'pos')", name="ck_orders_channel_known"),
        sa.CheckConstraint(
            "source IN ('webhook', 'reconciliation', 'ledger', 'seed')",
            name="ck_orders_source_known",
        ),
        sa.CheckConstraint("refunded_amount >= 0", name="ck_orders_refunded_not_negative"),
        grant=TENANT_GRANT,
    )
    op.create_index(
        "ix_orders_customer",
        "orders",
        ["merchant_id", "customer_id", "created_at"],
        postgresql_where=sa.text("customer_id IS NOT NULL"),
    )
    ddl.create_settings_table("rfm_thresholds", grant=TENANT_GRANT)
    ddl.create_tenant_table(
        "customer_segments",
        *ddl.entity_key(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        *(sa.Column(column, sa.SmallInteger) for column in SCORE_COLUMNS),
        ddl.now_column("created_at"),
        ddl.merchant_foreign_key(),
        sa.UniqueConstraint("merchant_id", "name", name="uq_customer_segments_merchant_id_name"),
        *(
            sa.CheckConstraint(
                f"{column} BETWEEN 1 AND 5", name=f"ck_customer_segments_{column}_range"
            )
            for column in SCORE_COLUMNS
        ),
        grant=TENANT_GRANT,
    )
    ddl.grant_to_app("DELETE", "customer_segments")
    ddl.create_tenant_table(
        "rfm_score_history",
        ddl.merchant_id_column(),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recency", sa.SmallInteger, nullable=False),
        sa.Column("frequency", sa.SmallInteger, nullable=False),
        sa.Column("monetary", sa.SmallInteger, nullable=False),
        sa.Column("score", sa.Numeric(3, 2), nullable=False),
        sa.Column("segment", sa.Text),
        sa.PrimaryKeyConstraint("merchant_id", "customer_id", "computed_at"),
        ddl.merchant_foreign_key(),
        ddl.customer_foreign_key(),
        grant=TENANT_GRANT,
    )

    benchmarks = op.create_table(
        "rfm_benchmarks",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("industry", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("thresholds", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("industry", name="uq_rfm_benchmarks_industry"),
    )
    op.bulk_insert(
        benchmarks,
        [
            {
                "id": industry.lower().replace(" ", "-"),
                "industry": industry,
                "description": description,
                "thresholds": {
                    "recency_days": recency,
                    "frequency_orders": frequency,
                    "monetary_aov_multiples": ["0.5", "1", "2", "5"],
                    "time_weighted": time_weighted,
                },
            }
            for industry, description, recency, frequency, time_weighted in BENCHMARKS
        ],
    )
    ddl.grant_to_app("SELECT", "rfm_benchmarks")

    op.execute(
        """
        CREATE MATERIALIZED VIEW rfm_segment_counts AS
        SELECT merchant_id, rfm_segment AS segment_name, count(*) AS customer_count
        FROM customers
        WHERE rfm_segment IS NOT NULL
        GROUP BY merchant_id, rfm_segment
        """
    )
    # REFRESH ... CONCURRENTLY needs a unique index over plain columns.
    op.execute(
        "CREATE UNIQUE INDEX uq_rfm_segment_counts"
        " ON rfm_segment_counts (merchant_id, segment_name)"
    )
    # The one interpolation is the tenant-setting constant.
    op.execute(
        f"""
        CREATE VIEW rfm_segment_counts_of_tenant WITH (security_barrier) AS
        SELECT merchant_id, segment_name, customer_count
        FROM rfm_segment_counts
        WHERE merchant_id = {TENANT_SETTING}
        """  # noqa: S608
    )
    ddl.grant_to_app("SELECT", "rfm_segment_counts_of_tenant")


def downgrade() -> None:
    op.execute("DROP VIEW rfm_segment_counts_of_tenant")
    op.execute("DROP MATERIALIZED VIEW rfm_segment_counts")
    op.drop_table("rfm_benchmarks")
    for table in reversed(TENANT_TABLES):
        op.drop_table(table)
