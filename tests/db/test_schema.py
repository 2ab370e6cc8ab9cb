"""The migrated schema: partitioning, row-level security, log retention and the ledger's
constraints, checked in the catalog of the real test database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from db.partitions import HASH_PARTITIONS, LOG_TABLES
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, add_customer

TENANT_TABLES = ("customers", "points_transactions", "referral_links")
RLS_TABLES = ("merchants", *TENANT_TABLES, *LOG_TABLES)
MONTHS_KEPT_AHEAD = 3
RETENTION = timedelta(days=90)


@pytest_asyncio.fixture(loop_scope="session")
async def rolled_back(resources: Resources) -> AsyncIterator[AsyncConnection]:
    """A connection whose work, DDL included, is undone after the test."""
    async with resources.engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
        finally:
            await transaction.rollback()


def add_months(month: datetime, months: int) -> datetime:
    index = month.year * 12 + month.month - 1 + months
    return month.replace(year=index // 12, month=index % 12 + 1, day=1)


def month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def partition_name(table: str, month: datetime) -> str:
    return f"{table}_y{month:%Y}m{month:%m}"


async def partitions_of(connection: AsyncConnection, table: str) -> dict[str, str]:
    """partition name -> its bound, as Postgres prints it."""
    rows = await connection.execute(
        text(
            """
            SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = CAST(:table AS regclass)
            """
        ),
        {"table": table},
    )
    return {str(name): str(bound) for name, bound in rows.all()}


async def partition_key(connection: AsyncConnection, table: str) -> str | None:
    """How a table is partitioned, e.g. ``HASH (merchant_id)``; None when it is not."""
    key = await connection.scalar(
        text(
            """
            SELECT pg_get_partkeydef(p.partrelid)
            FROM pg_partitioned_table p
            WHERE p.partrelid = CAST(:table AS regclass)
            """
        ),
        {"table": table},
    )
    return None if key is None else str(key)


async def maintain(
    connection: AsyncConnection, *, as_of: datetime, retention: timedelta = RETENTION
) -> set[tuple[str, str]]:
    rows = await connection.execute(
        text(
            "SELECT action, partition_name FROM loyalnest_maintain_log_partitions("
            ":ahead, :retention, :as_of)"
        ),
        {"ahead": MONTHS_KEPT_AHEAD, "retention": retention, "as_of": as_of},
    )
    return {(str(action), str(name)) for action, name in rows.all()}


@pytest.mark.parametrize("table", TENANT_TABLES)
async def test_tenant_tables_are_hash_partitioned_by_merchant_into_16(
    rolled_back: AsyncConnection, table: str
) -> None:
    key = await partition_key(rolled_back, table)
    partitions = await partitions_of(rolled_back, table)

    assert key == "HASH (merchant_id)"
    assert len(partitions) == HASH_PARTITIONS == 16
    assert sorted(partitions.values()) == sorted(
        f"FOR VALUES WITH (modulus 16, remainder {r})" for r in range(16)
    )


@pytest.mark.parametrize("table", LOG_TABLES)
async def test_logs_are_range_partitioned_by_month_with_the_coming_months_ready(
    rolled_back: AsyncConnection, table: str
) -> None:
    now = (await rolled_back.execute(text("SELECT now()"))).scalar_one()
    this_month = month_start(now)

    key = await partition_key(rolled_back, table)
    partitions = await partitions_of(rolled_back, table)

    assert key == "RANGE (created_at)"
    for ahead in range(MONTHS_KEPT_AHEAD + 1):
        assert partition_name(table, add_months(this_month, ahead)) in partitions


async def test_a_log_row_lands_in_its_months_partition(
    rolled_back: AsyncConnection, tenant: Tenant
) -> None:
    now = (await rolled_back.execute(text("SELECT now()"))).scalar_one()

    await rolled_back.execute(
        text(
            "INSERT INTO api_logs (merchant_id, id, topic, webhook_id, payload_bytes) "
            "VALUES (:merchant, :id, 'orders/create', 'w-1', 3)"
        ),
        {"merchant": tenant.merchant_id, "id": str(uuid.uuid4())},
    )

    stored_in = (
        await rolled_back.execute(
            text("SELECT tableoid::regclass::text FROM api_logs WHERE merchant_id = :merchant"),
            {"merchant": tenant.merchant_id},
        )
    ).scalar_one()
    assert stored_in == partition_name("api_logs", month_start(now))


@pytest.mark.parametrize("table", RLS_TABLES)
async def test_row_level_security_is_enabled(rolled_back: AsyncConnection, table: str) -> None:
    enabled = (
        await rolled_back.execute(
            text("SELECT relrowsecurity FROM pg_class WHERE oid = CAST(:table AS regclass)"),
            {"table": table},
        )
    ).scalar_one()
    policies = (
        await rolled_back.execute(
            text("SELECT count(*) FROM pg_policies WHERE tablename = :table"), {"table": table}
        )
    ).scalar_one()

    assert enabled is True
    assert policies >= 1


async def test_maintenance_run_twice_changes_nothing_the_second_time(
    rolled_back: AsyncConnection,
) -> None:
    now = (await rolled_back.execute(text("SELECT now()"))).scalar_one()
    await maintain(rolled_back, as_of=now)
    before = {table: await partitions_of(rolled_back, table) for table in LOG_TABLES}

    assert await maintain(rolled_back, as_of=now) == set()
    assert {table: await partitions_of(rolled_back, table) for table in LOG_TABLES} == before


async def test_maintenance_creates_coming_months_and_drops_months_past_retention(
    rolled_back: AsyncConnection,
) -> None:
    now = (await rolled_back.execute(text("SELECT now()"))).scalar_one()
    this_month = month_start(now)
    # Mid-month, six months on: 90 days back lands mid-month three months from now, so the
    # three months before it are wholly past retention and that month itself is not.
    as_of = add_months(this_month, 6) + timedelta(days=14)
    before = {table: set(await partitions_of(rolled_back, table)) for table in LOG_TABLES}

    changes = await maintain(rolled_back, as_of=as_of)

    for table in LOG_TABLES:
        created = {partition_name(table, add_months(this_month, m)) for m in range(6, 10)}
        dropped = {partition_name(table, add_months(this_month, m)) for m in range(3)}
        kept = partition_name(table, add_months(this_month, 3))
        assert {name for action, name in changes if action == "created"} >= created
        assert {name for action, name in changes if action == "dropped"} >= dropped
        after = set(await partitions_of(rolled_back, table))
        assert after == (before[table] - dropped) | created
        assert kept in after


async def test_maintenance_far_in_the_future_keeps_only_the_months_ahead(
    rolled_back: AsyncConnection,
) -> None:
    now = (await rolled_back.execute(text("SELECT now()"))).scalar_one()
    as_of = add_months(month_start(now), 120) + timedelta(days=3)

    changes = await maintain(rolled_back, as_of=as_of)

    for table in LOG_TABLES:
        expected = {
            partition_name(table, add_months(month_start(as_of), m))
            for m in range(MONTHS_KEPT_AHEAD + 1)
        }
        assert set(await partitions_of(rolled_back, table)) == expected
    assert sum(1 for action, _ in changes if action == "created") == 2 * len(expected)


async def test_the_month_holding_the_retention_cutoff_is_kept(
    rolled_back: AsyncConnection,
) -> None:
    now = (await rolled_back.execute(text("SELECT now()"))).scalar_one()
    next_month = add_months(month_start(now), 1)
    # The cutoff is one second before next month: this month is not wholly past retention.
    as_of = next_month - timedelta(seconds=1) + RETENTION

    changes = await maintain(rolled_back, as_of=as_of)

    dropped = {name for action, name in changes if action == "dropped"}
    assert all(partition_name(t, month_start(now)) not in dropped for t in LOG_TABLES)

    changes = await maintain(rolled_back, as_of=as_of + timedelta(seconds=1))

    dropped = {name for action, name in changes if action == "dropped"}
    assert {partition_name(t, month_start(now)) for t in LOG_TABLES} <= dropped


async def insert_transaction(
    connection: AsyncConnection,
    tenant: Tenant,
    customer_id: str,
    *,
    kind: str,
    points: int,
    key: str,
) -> None:
    await connection.execute(
        text(
            "INSERT INTO points_transactions "
            "(merchant_id, id, customer_id, kind, points, reason, idempotency_key) "
            "VALUES (:merchant, :id, :customer, :kind, :points, 'test', :key)"
        ),
        {
            "merchant": tenant.merchant_id,
            "id": str(uuid.uuid4()),
            "customer": customer_id,
            "kind": kind,
            "points": points,
            "key": key,
        },
    )


async def test_a_balance_cannot_go_negative(
    rolled_back: AsyncConnection, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=10)

    with pytest.raises(IntegrityError, match="points_balance_not_negative"):
        await rolled_back.execute(
            text(
                "UPDATE customers SET points_balance = points_balance - 11 "
                "WHERE merchant_id = :merchant AND id = :customer"
            ),
            {"merchant": tenant.merchant_id, "customer": customer_id},
        )


@pytest.mark.parametrize(
    ("kind", "points"),
    [("earn", -5), ("referral", -1), ("redeem", 5), ("expire", 1), ("adjust", 0), ("reverse", 5)],
)
async def test_ledger_rows_must_carry_the_sign_of_their_kind(
    rolled_back: AsyncConnection, resources: Resources, tenant: Tenant, kind: str, points: int
) -> None:
    customer_id = await add_customer(resources, tenant)

    with pytest.raises(IntegrityError, match="points_sign_matches_kind"):
        await insert_transaction(
            rolled_back, tenant, customer_id, kind=kind, points=points, key="k-1"
        )


async def test_unknown_ledger_kinds_are_refused(
    rolled_back: AsyncConnection, resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)

    with pytest.raises(IntegrityError, match="kind_known"):
        await insert_transaction(rolled_back, tenant, customer_id, kind="gift", points=5, key="k")


async def test_one_idempotency_key_changes_a_merchants_ledger_once(
    rolled_back: AsyncConnection, resources: Resources, tenant: Tenant
) -> None:
    first = await add_customer(resources, tenant)
    second = await add_customer(resources, tenant)
    await insert_transaction(rolled_back, tenant, first, kind="earn", points=5, key="order-1")

    with pytest.raises(IntegrityError, match="merchant_id_idempotency_key"):
        await insert_transaction(rolled_back, tenant, second, kind="earn", points=7, key="order-1")


async def test_the_same_idempotency_key_is_free_for_another_merchant(
    rolled_back: AsyncConnection, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    ours = await add_customer(resources, tenant)
    theirs = await add_customer(resources, other_tenant)

    await insert_transaction(rolled_back, tenant, ours, kind="earn", points=5, key="order-1")
    await insert_transaction(
        rolled_back, other_tenant, theirs, kind="earn", points=5, key="order-1"
    )

    count = (
        await rolled_back.execute(
            text(
                "SELECT count(*) FROM points_transactions WHERE idempotency_key = 'order-1' "
                "AND merchant_id IN (:a, :b)"
            ),
            {"a": tenant.merchant_id, "b": other_tenant.merchant_id},
        )
    ).scalar_one()
    assert count == 2


async def test_a_ledger_row_needs_a_customer_of_the_same_merchant(
    rolled_back: AsyncConnection, resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await add_customer(resources, other_tenant)

    with pytest.raises(IntegrityError, match="fk_points_transactions"):
        await insert_transaction(rolled_back, tenant, theirs, kind="earn", points=5, key="x")


async def test_emails_are_unique_per_merchant_by_blind_index(
    rolled_back: AsyncConnection, resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, email="ana@example.com")
    index = resources.cipher.blind_index("ana@example.com", context="customers.email")

    with pytest.raises(IntegrityError, match="merchant_id_email_blind_index"):
        await rolled_back.execute(
            text(
                "INSERT INTO customers (merchant_id, id, email_encrypted, email_blind_index) "
                "VALUES (:merchant, :id, 'x', :index)"
            ),
            {"merchant": tenant.merchant_id, "id": str(uuid.uuid4()), "index": index},
        )
