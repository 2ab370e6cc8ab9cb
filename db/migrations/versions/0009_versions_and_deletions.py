"""Updates that cannot overwrite a newer change, and deletes that are safe to retry.

``version`` on ``rewards``, ``bonus_campaigns`` and ``vip_tiers`` (as ``program_settings``
has): every update bumps it, and an update that names the version it read
(``expectedVersion``) is refused with VERSION_CONFLICT when the row has moved on, decided in
the UPDATE itself (compare-and-set), so of two edits based on one version exactly one lands.
Existing rows start at 1.

``deletions`` records which campaigns and tiers a merchant deleted for good (rewards are
soft-deleted and need no record), so that a retried delete answers success with the same id
instead of NOT_FOUND. Hash-partitioned and row-level secured like every tenant table.
"""

import sqlalchemy as sa
from alembic import op

from db import ddl

revision = "0009"
down_revision = "0008"

VERSIONED_TABLES = ("rewards", "bonus_campaigns", "vip_tiers")


def upgrade() -> None:
    for table in VERSIONED_TABLES:
        op.add_column(table, ddl.version_column())
    ddl.create_tenant_table(
        "deletions",
        ddl.merchant_id_column(),
        sa.Column("entity", sa.Text, nullable=False),
        sa.Column("entity_id", sa.Text, nullable=False),
        ddl.now_column("deleted_at"),
        sa.PrimaryKeyConstraint("merchant_id", "entity", "entity_id"),
        ddl.merchant_foreign_key(),
        # Append-only: the record of a deletion is never changed or removed by the app.
        grant="SELECT, INSERT",
    )


def downgrade() -> None:
    op.drop_table("deletions")
    for table in reversed(VERSIONED_TABLES):
        op.drop_column(table, "version")
