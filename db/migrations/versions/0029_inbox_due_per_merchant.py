"""A merchant's due deliveries, soonest first (``ix_api_logs_merchant_pending_due``): a worker
batch that has room fills it with the merchant's oldest due deliveries, not only those whose
jobs have started (issue 12: arq starts jobs one Redis round trip at a time, so batches held
about 12 deliveries under a backlog, and every batch's fixed cost was shared by that few).

The sweeper's index (``ix_api_logs_pending_due``) orders every merchant's pending rows; this one
is the same rows by merchant, so one merchant's claim reads its own rows only."""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"


def upgrade() -> None:
    op.create_index(
        "ix_api_logs_merchant_pending_due",
        "api_logs",
        ["merchant_id", "next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_api_logs_merchant_pending_due", table_name="api_logs")
