"""Row-level security isolates tenants even when a query forgets to (or tries not to)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy import table as sql_table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker

from db.session import APP_ROLE, system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.resources import Resources
from tests.conftest import Tenant, add_customer

CUSTOMERS_OF = text("SELECT id FROM customers WHERE merchant_id = :merchant")


async def test_a_tenant_sees_its_own_customers(resources: Resources, tenant: Tenant) -> None:
    customer_id = await add_customer(resources, tenant)

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        found = (await session.execute(CUSTOMERS_OF, {"merchant": tenant.merchant_id})).all()

    assert [row.id for row in found] == [customer_id]


async def test_a_query_naming_another_merchant_returns_nothing(
    resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    await add_customer(resources, other_tenant, points=50)
    async with system_unit_of_work(resources.sessions) as session:
        exists_for_owner = (
            await session.execute(CUSTOMERS_OF, {"merchant": other_tenant.merchant_id})
        ).all()

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        customers = (
            await session.execute(CUSTOMERS_OF, {"merchant": other_tenant.merchant_id})
        ).all()
        ledger = (
            await session.execute(
                text("SELECT id FROM points_transactions WHERE merchant_id = :merchant"),
                {"merchant": other_tenant.merchant_id},
            )
        ).all()
        merchant = (
            await session.execute(
                text("SELECT id FROM merchants WHERE id = :merchant"),
                {"merchant": other_tenant.merchant_id},
            )
        ).all()

    assert len(exists_for_owner) == 1
    assert (customers, ledger, merchant) == ([], [], [])


async def test_an_unfiltered_query_returns_only_the_tenants_rows(
    resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    ours = await add_customer(resources, tenant)
    await add_customer(resources, other_tenant)

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        merchants = (
            await session.execute(text("SELECT DISTINCT merchant_id FROM customers"))
        ).all()
        ids = (await session.execute(text("SELECT id FROM customers"))).all()

    assert [row.merchant_id for row in merchants] == [tenant.merchant_id]
    assert [row.id for row in ids] == [ours]


async def test_inserting_a_row_for_another_merchant_is_refused(
    resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    planted_id = str(uuid.uuid4())

    with pytest.raises(DBAPIError, match="row-level security"):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await session.execute(
                text(
                    "INSERT INTO customers (merchant_id, id, email_encrypted, email_blind_index) "
                    "VALUES (:merchant, :id, 'x', :index)"
                ),
                {"merchant": other_tenant.merchant_id, "id": planted_id, "index": planted_id},
            )

    async with system_unit_of_work(resources.sessions) as session:
        planted = (
            await session.execute(
                text("SELECT id FROM customers WHERE id = :id"), {"id": planted_id}
            )
        ).all()
    assert planted == []


async def test_moving_a_row_to_another_merchant_is_refused(
    resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant)

    with pytest.raises(DBAPIError, match="row-level security"):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await session.execute(
                text("UPDATE customers SET merchant_id = :other WHERE id = :id"),
                {"other": other_tenant.merchant_id, "id": customer_id},
            )

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        still_ours = (await session.execute(CUSTOMERS_OF, {"merchant": tenant.merchant_id})).all()
    assert [row.id for row in still_ours] == [customer_id]


async def test_another_merchants_rows_cannot_be_changed_or_deleted(
    resources: Resources, tenant: Tenant, other_tenant: Tenant
) -> None:
    victim = await add_customer(resources, other_tenant, points=30)

    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        updated = (
            await session.execute(
                text("UPDATE customers SET points_balance = 0 WHERE id = :id RETURNING id"),
                {"id": victim},
            )
        ).all()
        deleted = (
            await session.execute(
                text("DELETE FROM customers WHERE id = :id RETURNING id"), {"id": victim}
            )
        ).all()

    async with system_unit_of_work(resources.sessions) as session:
        balance = (
            await session.execute(
                text("SELECT points_balance FROM customers WHERE id = :id"), {"id": victim}
            )
        ).scalar_one()
    assert (updated, deleted, balance) == ([], [], 30)


async def test_without_a_merchant_the_app_role_sees_nothing(
    resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant)

    async with system_unit_of_work(resources.sessions) as session:
        await session.execute(text("SELECT set_config('role', :role, true)"), {"role": APP_ROLE})
        role = (await session.execute(text("SELECT current_user"))).scalar_one()
        visible = {
            table: await session.scalar(select(func.count()).select_from(sql_table(table)))
            for table in ("merchants", "customers", "points_transactions", "referral_links")
        }

    assert role == APP_ROLE
    assert visible == {
        "merchants": 0,
        "customers": 0,
        "points_transactions": 0,
        "referral_links": 0,
    }


@pytest.mark.parametrize(
    "partition", ["customers_p00", "points_transactions_p07", "referral_links_p15"]
)
async def test_the_app_role_cannot_read_a_partition_directly(
    resources: Resources, tenant: Tenant, partition: str
) -> None:
    with pytest.raises(DBAPIError, match="permission denied"):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await session.execute(select(func.count()).select_from(sql_table(partition)))


async def test_the_app_role_cannot_turn_row_level_security_off(
    resources: Resources, tenant: Tenant
) -> None:
    with pytest.raises(DBAPIError, match=r"must be owner|permission denied"):
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await session.execute(text("ALTER TABLE customers DISABLE ROW LEVEL SECURITY"))


async def test_the_tenant_setting_does_not_outlive_its_transaction(
    resources: Resources, tenant: Tenant
) -> None:
    async with resources.engine.connect() as connection:
        # Both units of work on one pooled connection, as happens under load.
        on_one_connection = async_sessionmaker(bind=connection, expire_on_commit=False)
        async with tenant_unit_of_work(on_one_connection, tenant.merchant_id):
            pass

        async with system_unit_of_work(on_one_connection) as session:
            role = (await session.execute(text("SELECT current_user"))).scalar_one()
            merchant = (
                await session.execute(text("SELECT current_setting('app.merchant_id', true)"))
            ).scalar_one()

    assert role != APP_ROLE
    assert merchant in (None, "")
