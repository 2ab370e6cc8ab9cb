"""The Shopify backfill at install: ``shopify_backfills``, one row per merchant holding the
state of its latest run (step, bulk operation, result URL, lines written, counts), so a run
stopped anywhere continues where its last commit left it. Tenant table: hash-partitioned by
merchant and row-level secured like every other."""

import sqlalchemy as sa
from alembic import op

from db.partitions import hash_partitions, tenant_isolation
from db.session import APP_ROLE

revision = "0016"
# Re-chained after 0015 at merge.
down_revision = "0015"

TABLE = "shopify_backfills"


def _counter(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("run", sa.Integer, nullable=False, server_default="1"),
        sa.Column("status", sa.Text, nullable=False, server_default="queued"),
        sa.Column("step", sa.Text, nullable=False, server_default="customers"),
        sa.Column("orders_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bulk_operation_id", sa.Text),
        sa.Column("result_url", sa.Text),
        _counter("lines_processed"),
        _counter("customers_imported"),
        _counter("orders_imported"),
        sa.Column("error", sa.Text),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.PrimaryKeyConstraint("merchant_id", name="pk_shopify_backfills"),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            ondelete="CASCADE",
            name="fk_shopify_backfills_merchant_id_merchants",
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed', 'stopped')",
            name="ck_shopify_backfills_status_known",
        ),
        sa.CheckConstraint(
            "step IN ('customers', 'orders', 'scoring')", name="ck_shopify_backfills_step_known"
        ),
        sa.CheckConstraint("lines_processed >= 0", name="ck_shopify_backfills_lines_not_negative"),
        postgresql_partition_by="HASH (merchant_id)",
    )
    for statement in hash_partitions(TABLE) + tenant_isolation(TABLE):
        op.execute(statement)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {TABLE} TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_table(TABLE)
