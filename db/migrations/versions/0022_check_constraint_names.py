"""Check constraints of ``orders`` and ``customer_segments`` under the names the models give
them. Migration 0011 passed names that already carried the ``ck_<table>_`` prefix, and the
naming convention added it again (``ck_orders_ck_orders_channel_known``); a later migration
that drops or alters one by the model's name would miss it. Renaming the partitioned parent
renames the partitions' inherited constraints with it."""

from alembic import op

revision = "0022"
down_revision = "0021"

SCORE_COLUMNS = (
    "recency_min",
    "recency_max",
    "frequency_min",
    "frequency_max",
    "monetary_min",
    "monetary_max",
)
RENAMED = (
    ("orders", "channel_known"),
    ("orders", "source_known"),
    ("orders", "refunded_not_negative"),
    *(("customer_segments", f"{column}_range") for column in SCORE_COLUMNS),
)


def _rename(table: str, old: str, new: str) -> None:
    op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}")


def upgrade() -> None:
    for table, name in RENAMED:
        _rename(table, f"ck_{table}_ck_{table}_{name}", f"ck_{table}_{name}")


def downgrade() -> None:
    for table, name in RENAMED:
        _rename(table, f"ck_{table}_{name}", f"ck_{table}_ck_{table}_{name}")
