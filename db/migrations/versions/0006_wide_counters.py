"""Counters that cannot overflow, and when a customer was redacted.

Balances, lifetime sums and counts of unbounded things become ``bigint``: an ``integer``
column fails the write that would pass 2^31 - 1, and the API serializes them as
``UnsignedInt64``. Altering a partitioned parent's column type propagates to every
partition. Per-transaction amounts (``points_transactions.points``, capped by
``MAX_POINTS_PER_TRANSACTION``) are widened too, so that sums over them stay in ``bigint``
arithmetic and a future cap never needs a rewrite of the ledger.

``customers.redacted_at`` records a GDPR erasure (customers/redact): the API shows the
customer's personal fields as null from then on, and no reminder is sent to them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

# (table, column): every one is a balance, a sum or a count that can pass 2^31 - 1.
WIDE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("customers", "points_balance"),
    ("customers", "total_points_earned"),
    ("customers", "orders_count"),
    ("points_transactions", "points"),
    ("points_transactions", "remaining_points"),
    ("expiry_reminders", "points"),
    ("referral_links", "click_count"),
)


def upgrade() -> None:
    for table, column in WIDE_COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger, existing_type=sa.Integer)
    op.add_column("customers", sa.Column("redacted_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("customers", "redacted_at")
    # Fails (as it should) if a value no longer fits in an integer.
    for table, column in WIDE_COLUMNS:
        op.alter_column(table, column, type_=sa.Integer, existing_type=sa.BigInteger)
