"""Customer data imports (issue 15): ``data_imports``, one row per import (dry runs included)
with its counts and error log, and ``data_import_rows``, the applied rows of a committed
import (staged by COPY; what a revert reverses). Hash-partitioned by merchant and row-level
secured like every tenant table."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from db.partitions import hash_partitions, tenant_isolation
from db.session import APP_ROLE

revision = "0015"
down_revision = "0014"

TABLES = ("data_imports", "data_import_rows")


def upgrade() -> None:
    op.create_table(
        "data_imports",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("id", sa.Text, nullable=False),
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
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("committed_at", sa.DateTime(timezone=True)),
        sa.Column("reverted_at", sa.DateTime(timezone=True)),
        sa.Column("reverted_points", sa.BigInteger),
        sa.Column("revert_shortfall", sa.BigInteger),
        sa.Column("removed_customers", sa.Integer),
        sa.PrimaryKeyConstraint("merchant_id", "id", name="pk_data_imports"),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            ondelete="CASCADE",
            name="fk_data_imports_merchant_id_merchants",
        ),
        sa.UniqueConstraint(
            "merchant_id", "idempotency_key", name="uq_data_imports_merchant_id_idempotency_key"
        ),
        sa.CheckConstraint(
            "source IN ('smile', 'loyaltylion', 'shopify', 'custom')", name="source_known"
        ),
        sa.CheckConstraint("status IN ('previewed', 'committed', 'reverted')", name="status_known"),
        sa.CheckConstraint(
            "row_count >= 0 AND create_count >= 0 AND update_count >= 0 AND skip_count >= 0"
            " AND error_count >= 0",
            name="counts_not_negative",
        ),
        postgresql_partition_by="HASH (merchant_id)",
    )
    op.create_table(
        "data_import_rows",
        sa.Column("merchant_id", sa.Text, nullable=False),
        sa.Column("import_id", sa.Text, nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("created_customer", sa.Boolean, nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("transaction_id", sa.Text),
        sa.PrimaryKeyConstraint(
            "merchant_id", "import_id", "row_number", name="pk_data_import_rows"
        ),
        # No foreign key to data_imports (see the model): written only with their import.
        postgresql_partition_by="HASH (merchant_id)",
    )
    for table in TABLES:
        for statement in hash_partitions(table) + tenant_isolation(table):
            op.execute(statement)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON data_imports TO {APP_ROLE}")
    # Written once at commit, read by the revert.
    op.execute(f"GRANT SELECT, INSERT ON data_import_rows TO {APP_ROLE}")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
