"""Customer data imports (issue 15): ``data_imports``, one row per import (dry runs included)
with its counts and error log, and ``data_import_rows``, the applied rows of a committed
import (staged by COPY; what a revert reverses). Hash-partitioned by merchant and row-level
secured like every tenant table."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from db import ddl

revision = "0015"
down_revision = "0014"

TABLES = ("data_imports", "data_import_rows")


def upgrade() -> None:
    ddl.create_tenant_table(
        "data_imports",
        *ddl.entity_key(),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text),
        sa.Column("mapping", JSONB),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("create_count", sa.Integer, nullable=False),
        sa.Column("update_count", sa.Integer, nullable=False),
        sa.Column("skip_count", sa.Integer, nullable=False),
        sa.Column("error_count", sa.Integer, nullable=False),
        sa.Column("points_total", sa.BigInteger, nullable=False),
        sa.Column("error_log", JSONB, nullable=False, server_default=sa.text("'[]'")),
        sa.Column("actor_id", sa.Text),
        ddl.now_column("created_at"),
        sa.Column("committed_at", sa.DateTime(timezone=True)),
        sa.Column("reverted_at", sa.DateTime(timezone=True)),
        sa.Column("reverted_points", sa.BigInteger),
        sa.Column("revert_shortfall", sa.BigInteger),
        sa.Column("removed_customers", sa.Integer),
        ddl.merchant_foreign_key(),
        sa.UniqueConstraint("merchant_id", "idempotency_key"),
        sa.CheckConstraint(
            "source IN ('smile', 'loyaltylion', 'shopify', 'custom')", name="source_known"
        ),
        sa.CheckConstraint("status IN ('previewed', 'committed', 'reverted')", name="status_known"),
        sa.CheckConstraint(
            "row_count >= 0 AND create_count >= 0 AND update_count >= 0 AND skip_count >= 0"
            " AND error_count >= 0",
            name="counts_not_negative",
        ),
        grant="SELECT, INSERT, UPDATE",
    )
    ddl.create_tenant_table(
        "data_import_rows",
        ddl.merchant_id_column(),
        sa.Column("import_id", sa.Text, nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("created_customer", sa.Boolean, nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("transaction_id", sa.Text),
        sa.PrimaryKeyConstraint("merchant_id", "import_id", "row_number"),
        # No foreign key to data_imports (see the model): written only with their import.
        # Written once at commit, read by the revert.
        grant="SELECT, INSERT",
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
