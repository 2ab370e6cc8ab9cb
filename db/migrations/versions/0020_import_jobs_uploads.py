"""Imports committed by the worker (issue 15): ``data_imports`` gains the queued, running and
failed statuses, the job's progress (rows done of rows to apply), its attempts and the reason a
failed import gives; ``staged_uploads`` holds a file's bytes (encrypted: customer exports are
PII) from the moment it is sent until its import is applied, tenant-scoped like every table."""

import sqlalchemy as sa
from alembic import op

from db import ddl

revision = "0020"
down_revision = "0019"

OLD_STATUSES = "status IN ('previewed', 'committed', 'reverted')"
STATUSES = "status IN ('previewed', 'queued', 'running', 'committed', 'failed', 'reverted')"


def upgrade() -> None:
    ddl.create_tenant_table(
        "staged_uploads",
        *ddl.entity_key(),
        sa.Column("file_name", sa.Text),
        sa.Column("file_size", sa.Integer, nullable=False),
        sa.Column("content_encrypted", sa.Text),
        ddl.now_column("created_at"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        ddl.merchant_foreign_key(),
        sa.CheckConstraint("file_size >= 0", name="size_not_negative"),
        grant="SELECT, INSERT, UPDATE, DELETE",
    )
    op.add_column("data_imports", sa.Column("upload_id", sa.Text))
    op.add_column(
        "data_imports",
        sa.Column("skip_invalid_rows", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "data_imports", sa.Column("rows_done", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column(
        "data_imports", sa.Column("attempts", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column("data_imports", sa.Column("started_at", sa.DateTime(timezone=True)))
    op.add_column("data_imports", sa.Column("failed_at", sa.DateTime(timezone=True)))
    op.add_column("data_imports", sa.Column("failure_reason", sa.Text))
    op.drop_constraint("ck_data_imports_status_known", "data_imports")
    op.create_check_constraint("status_known", "data_imports", STATUSES)
    # What the sweeper reads every few seconds: the few imports not yet finished.
    op.create_index(
        "ix_data_imports_unfinished",
        "data_imports",
        ["merchant_id", "id"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )


def downgrade() -> None:
    op.drop_index("ix_data_imports_unfinished", "data_imports")
    op.drop_constraint("ck_data_imports_status_known", "data_imports")
    op.execute(
        "UPDATE data_imports SET status = 'previewed' WHERE status NOT IN "
        "('previewed', 'committed', 'reverted')"
    )
    op.create_check_constraint("status_known", "data_imports", OLD_STATUSES)
    for column in (
        "failure_reason",
        "failed_at",
        "started_at",
        "attempts",
        "rows_done",
        "skip_invalid_rows",
        "upload_id",
    ):
        op.drop_column("data_imports", column)
    op.drop_table("staged_uploads")
