"""Bulk loading at COPY speed into a tenant table, under its row-level security.

``COPY ... FROM`` refuses a table with row-level security for a role the policy applies to
(our app role), so rows are copied into a temporary table first (``LIKE`` the target, dropped
at commit) and moved with one ``INSERT ... SELECT``: the policy's ``WITH CHECK`` still vets
every row's ``merchant_id``, and the load commits or rolls back with the caller's
transaction. Used by the generated benchmark shop and by data imports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Column, FromClause, MetaData, Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

# A load this big refreshes the statistics of the partitions it went to, in its transaction.
ANALYZE_AFTER_ROWS = 1_000


async def copy_rows(
    session: AsyncSession,
    table: FromClause,
    columns: Sequence[str],
    records: Iterable[Sequence[Any]],
) -> int:
    """Insert ``records`` (tuples in ``columns`` order) into ``table``; returns the row count.
    Columns left out take the table's defaults."""
    assert isinstance(table, Table), "a model's table"
    unknown = set(columns) - set(table.columns.keys())
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")
    staging = Table(
        f"bulk_{table.name}",
        MetaData(),
        *(Column(name, table.columns[name].type) for name in columns),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )
    connection = await session.connection()
    await connection.run_sync(lambda sync: staging.create(sync, checkfirst=True))
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None, "an asyncpg connection"
    await driver.copy_records_to_table(staging.name, records=records, columns=list(columns))
    moved = await session.execute(
        insert(table).from_select(list(columns), select(*staging.columns))
    )
    # Emptied, so a second load of this table in the same transaction starts clean; truncated
    # rather than deleted from, so its dead rows are not scanned again by every later load (a
    # shop loaded in chunks: bulk_points_transactions grew by a chunk per load).
    await session.execute(text(f'TRUNCATE "{staging.name}"'))
    loaded = int(getattr(moved, "rowcount", 0))
    if loaded >= ANALYZE_AFTER_ROWS:
        await _analyze_partitions(session, table)
    return loaded


async def _analyze_partitions(session: AsyncSession, table: Table) -> None:
    """Statistics of the partitions the load went to, counting this transaction's rows
    (migration 0027 says why: an index walk per foreign-key check otherwise)."""
    # Row-level security keeps this to the merchant's rows: the partitions it loaded into.
    partitions = await session.scalars(
        text(f'SELECT DISTINCT tableoid::regclass::text FROM "{table.name}"')  # noqa: S608
    )
    for partition in list(partitions):
        await session.execute(
            text("SELECT loyalnest_analyze_partition(CAST(:partition AS regclass))"),
            {"partition": partition},
        )
