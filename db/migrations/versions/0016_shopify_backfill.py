"""The Shopify backfill at install: ``shopify_backfills``, one row per merchant holding the
state of its latest run (step, bulk operation, result URL, lines written, counts), so a run
stopped anywhere continues where its last commit left it. Tenant table: hash-partitioned by
merchant and row-level secured like every other."""

import sqlalchemy as sa
from alembic import op

from db import ddl

revision = "0016"
# Re-chained after 0015 at merge.
down_revision = "0015"

TABLE = "shopify_backfills"


def _counter(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


def upgrade() -> None:
    ddl.create_tenant_table(
        TABLE,
        ddl.merchant_id_column(),
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
        ddl.now_column("updated_at"),
        sa.PrimaryKeyConstraint("merchant_id"),
        ddl.merchant_foreign_key(),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed', 'stopped')",
            name="status_known",
        ),
        sa.CheckConstraint("step IN ('customers', 'orders', 'scoring')", name="step_known"),
        sa.CheckConstraint("lines_processed >= 0", name="lines_not_negative"),
        grant="SELECT, INSERT, UPDATE",
    )


def downgrade() -> None:
    op.drop_table(TABLE)
