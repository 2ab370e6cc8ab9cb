"""A bulk load leaves the statistics of the partition it filled true to what the loading
transaction holds (migration 0027: with "empty" statistics every foreign-key check of the
next statement walked the whole shop), and the owner's ANALYZE it borrows reaches nothing
but our tables."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db.ids import new_id
from db.models import Customer
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.bulk import ANALYZE_AFTER_ROWS, copy_rows
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant

COLUMNS = ("merchant_id", "id", "email_encrypted", "email_blind_index")


async def _estimated_rows(resources: Resources, partition: str) -> float:
    async with system_unit_of_work(resources.sessions) as session:
        found = await session.scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = CAST(:p AS regclass)"),
            {"p": partition},
        )
    return float(found)


async def test_a_big_load_counts_its_own_rows_in_its_partitions_statistics(
    resources: Resources, tenant: Tenant
) -> None:
    rows = 3_000
    assert rows >= ANALYZE_AFTER_ROWS
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        records = [
            (tenant.merchant_id, new_id(), f"x{n}", f"bulk-{tenant.merchant_id}-{n}")
            for n in range(rows)
        ]
        assert await copy_rows(session, Customer.__table__, COLUMNS, records) == rows
        partition = await session.scalar(
            text("SELECT tableoid::regclass::text FROM customers LIMIT 1")
        )
        assert partition is not None
        assert partition.startswith("customers_p")
        # Inside the loading transaction, before its commit: what its next statements plan by.
        estimated = await session.scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = CAST(:p AS regclass)"),
            {"p": partition},
        )
        assert estimated is not None
        assert estimated >= rows
    assert await _estimated_rows(resources, partition) >= rows


@pytest.mark.parametrize("target", ["pg_catalog.pg_class", "pg_catalog.pg_authid"])
async def test_the_borrowed_analyze_refuses_any_table_but_ours(
    resources: Resources, tenant: Tenant, target: str
) -> None:
    with pytest.raises(DBAPIError, match="not a LoyalNest table"):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await session.execute(
                text("SELECT loyalnest_analyze_partition(CAST(:t AS regclass))"), {"t": target}
            )
