"""Every migration can be undone: a fresh database migrated to head, downgraded to base and
migrated again has the same schema as the first time, and the downgrade leaves no table,
function or view of ours behind."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from cli.stack import StackEnvironment
from db.migrate import downgrade, upgrade
from db.session import create_engine

SCRATCH_DATABASE = "loyalnest_test_migrations"

# What the migrations make, as Postgres describes it: columns, constraints, indexes,
# partitions, row-level security and its policies, grants, functions, triggers and views.
CATALOG = """
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' '
       || is_nullable || ' ' || coalesce(column_default, '')
FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' '
       || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'relation ' || relname || ' ' || relkind::text || ' rls=' || relrowsecurity || ' '
       || coalesce(pg_get_expr(relpartbound, oid), '') || ' '
       || coalesce(pg_get_partkeydef(oid), '')
FROM pg_class WHERE relnamespace = 'public'::regnamespace
UNION ALL
SELECT 'policy ' || tablename || ' ' || policyname || ' ' || array_to_string(roles, ',')
       || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '')
FROM pg_policies WHERE schemaname = 'public'
UNION ALL
SELECT 'grant ' || table_name || ' ' || grantee || ' ' || privilege_type
FROM information_schema.role_table_grants WHERE table_schema = 'public'
UNION ALL
SELECT 'function ' || pg_get_functiondef(oid) FROM pg_proc
WHERE pronamespace = 'public'::regnamespace
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'view ' || c.relname || ' ' || pg_get_viewdef(c.oid)
FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm')
"""


async def catalog(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return {str(row) for row in (await connection.scalars(text(CATALOG))).all()}
    finally:
        await engine.dispose()


async def test_downgrading_to_base_and_migrating_again_rebuilds_the_same_schema(
    stack: StackEnvironment,
) -> None:
    if stack.postgres is None:
        pytest.skip("needs the embedded Postgres, to make a scratch database")
    stack.postgres.drop_database(SCRATCH_DATABASE)
    stack.postgres.ensure_database(SCRATCH_DATABASE)
    url = stack.postgres.url(SCRATCH_DATABASE)
    try:
        # The migrations run their own event loop: in a thread, outside the test's.
        await asyncio.to_thread(upgrade, url)
        migrated = await catalog(url)

        await asyncio.to_thread(downgrade, url, "base")
        left_behind = await catalog(url)
        await asyncio.to_thread(upgrade, url)
        migrated_again = await catalog(url)
    finally:
        stack.postgres.drop_database(SCRATCH_DATABASE)

    assert any(entry.startswith("policy customers tenant_isolation") for entry in migrated)
    # Only Alembic's own bookkeeping table stays.
    assert left_behind
    assert all("alembic_version" in entry for entry in left_behind)
    assert migrated_again == migrated
