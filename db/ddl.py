"""The DDL the migrations share: tenant tables (hash-partitioned by merchant, row-level
secured, granted to the app role), the columns and foreign keys every tenant table repeats,
and the app role's grants.

For migration scripts only: the operations call ``alembic.op``, so they run inside a
migration, and constraint names left out follow ``db.models.base.NAMING_CONVENTION`` (Alembic
takes it from the target metadata). A migration is history: a helper must go on producing
the DDL it produced when the migrations using it ran, so change one only by adding another.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from db.partitions import hash_partitions, tenant_isolation
from db.session import APP_ROLE

HASH_BY_MERCHANT = "HASH (merchant_id)"


def now_column(name: str) -> sa.Column[Any]:
    """A ``timestamptz NOT NULL DEFAULT now()`` column (created_at, updated_at, next tries)."""
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
    )


def timestamps() -> tuple[sa.Column[Any], sa.Column[Any]]:
    """``created_at`` and ``updated_at``, both defaulting to now()."""
    return now_column("created_at"), now_column("updated_at")


def merchant_id_column() -> sa.Column[Any]:
    """``merchant_id``: the first column of every tenant table, and its partition key."""
    return sa.Column("merchant_id", sa.Text, nullable=False)


def entity_key() -> tuple[sa.Column[Any], sa.Column[Any], sa.PrimaryKeyConstraint]:
    """The key of a table of a merchant's entities: ``merchant_id``, then ``id`` (a UUIDv7),
    the primary key in that order (the partition key must lead it)."""
    return (
        merchant_id_column(),
        sa.Column("id", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "id"),
    )


def version_column() -> sa.Column[Any]:
    """``version``: bumped by every update, so an update naming the version it read
    (``expectedVersion``) cannot overwrite a newer change. Existing rows start at 1."""
    return sa.Column("version", sa.Integer, nullable=False, server_default="1")


def merchant_foreign_key(name: str | None = None) -> sa.ForeignKeyConstraint:
    """``merchant_id`` references the merchant, and the rows go with it. ``name`` only where a
    migration chose one off the naming convention (``fk_<table>_merchant_id``)."""
    return sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], ondelete="CASCADE", name=name)


def tenant_foreign_key(
    column: str, target: str, *, cascade: bool = True
) -> sa.ForeignKeyConstraint:
    """``(merchant_id, column)`` references ``target (merchant_id, id)`` of the same merchant;
    with ``cascade`` the rows go with the row they reference."""
    return sa.ForeignKeyConstraint(
        ["merchant_id", column],
        [f"{target}.merchant_id", f"{target}.id"],
        ondelete="CASCADE" if cascade else None,
    )


def customer_foreign_key(column: str = "customer_id") -> sa.ForeignKeyConstraint:
    """``(merchant_id, column)`` references a customer, and the rows go with them."""
    return tenant_foreign_key(column, "customers")


def execute_all(statements: Iterable[str]) -> None:
    for statement in statements:
        op.execute(statement)


def secure_by_tenant(table: str, tenant_column: str = "merchant_id") -> None:
    """Row-level security on ``table``: the app role sees and writes only the rows whose
    ``tenant_column`` is the transaction's merchant."""
    execute_all(tenant_isolation(table, tenant_column=tenant_column))


def partition_by_merchant(table: str) -> None:
    """The hash partitions of a table created ``PARTITION BY HASH (merchant_id)``, and its
    row-level security (on the parent only, the one the app role is granted)."""
    execute_all(hash_partitions(table))
    secure_by_tenant(table)


def grant_to_app(privileges: str, *tables: str) -> None:
    """Grant ``privileges`` (``"SELECT, INSERT"``) on ``tables`` to the app role: on parents
    only, so partitions stay out of its reach."""
    op.execute(f"GRANT {privileges} ON {', '.join(tables)} TO {APP_ROLE}")


def revoke_from_app(privileges: str, *tables: str) -> None:
    op.execute(f"REVOKE {privileges} ON {', '.join(tables)} FROM {APP_ROLE}")


def create_tenant_table(name: str, *items: sa.schema.SchemaItem, grant: str) -> sa.Table:
    """Create a tenant table hash-partitioned by merchant, with its partitions and row-level
    security, and grant the app role ``grant`` on it. ``items`` are the columns and
    constraints, ``merchant_id`` first."""
    table = op.create_table(name, *items, postgresql_partition_by=HASH_BY_MERCHANT)
    partition_by_merchant(name)
    grant_to_app(grant, name)
    return table


def create_settings_table(
    name: str,
    *columns: sa.Column[Any],
    grant: str,
    merchant_fk: sa.ForeignKeyConstraint | None = None,
) -> sa.Table:
    """Create a merchant's settings table: one row per merchant holding one validated JSON
    document (``config``), versioned, with ``columns`` beside it (secrets, encrypted).
    ``merchant_fk`` only where a migration named the merchant foreign key itself."""
    return create_tenant_table(
        name,
        merchant_id_column(),
        sa.Column("config", JSONB, nullable=False),
        *columns,
        version_column(),
        *timestamps(),
        sa.PrimaryKeyConstraint("merchant_id"),
        merchant_fk if merchant_fk is not None else merchant_foreign_key(),
        grant=grant,
    )
