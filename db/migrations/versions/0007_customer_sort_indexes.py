"""Indexes for the customer list's sort keys (``customers(sortKey: CREATED_AT |
POINTS_BALANCE)``): keyset pages in either direction read one merchant's slice of an index
instead of sorting the merchant's whole partition. ``id`` breaks ties, as the cursors do.

An index on a partitioned parent is created on every partition. On a large live database,
create each partition's index CONCURRENTLY first and attach it; Alembic here is for fresh
and small databases.
"""

from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_index("ix_customers_created_at", "customers", ["merchant_id", "created_at", "id"])
    op.create_index(
        "ix_customers_points_balance", "customers", ["merchant_id", "points_balance", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_customers_points_balance", table_name="customers")
    op.drop_index("ix_customers_created_at", table_name="customers")
