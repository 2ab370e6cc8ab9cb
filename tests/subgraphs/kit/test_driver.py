"""Statements on the driver's connection (``kit.driver``) behave as SQLAlchemy's would:
- a list read (``TenantRepository.read_page``) is the same list as the one SQLAlchemy executes
  (``paginate_records``): the same rows in the same order, page after page, in every order and
  direction, with filters — and it stays one merchant's;
- a row made an entity (``loaded``) is the one the session would hold, fresh and clean;
- a failing statement raises SQLAlchemy's exception, and the unit of work rolls back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import bindparam, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from db.models import Customer
from db.session import tenant_unit_of_work
from subgraphs.kit.driver import TEMPLATES, CompiledStatement, loaded, run, run_many
from subgraphs.kit.pagination import Page, PageRequest
from subgraphs.kit.repository import Comparison
from subgraphs.kit.resources import Resources
from subgraphs.points.customers.repository import (
    CUSTOMER_SORT_KEYS,
    CustomerRepository,
    compare,
    customer_position,
)
from tests.conftest import Tenant, add_customer
from worker.webhooks.processing import is_permanent

pytestmark = pytest.mark.asyncio(loop_scope="session")

BALANCES = [0, 5, 5, 5, 12, 40, 40, 75, 100, 100, 250, 999]
COLUMNS = [column.key for column in Customer.__table__.columns]


def _as_sqlalchemy(comparisons: list[Comparison]) -> list[Any]:
    return [c.applied(c.value) for c in comparisons]


async def _walk(
    resources: Resources,
    tenant: Tenant,
    *,
    driver: bool,
    sort_key: str,
    backward: bool,
    reverse: bool,
    comparisons: list[Comparison],
) -> list[list[tuple[Any, ...]]]:
    """Every page of the list, three rows at a time, following the cursors."""
    pages: list[list[tuple[Any, ...]]] = []
    cursor: tuple[Any, ...] | None = None
    while True:
        request = PageRequest(limit=3, cursor=cursor, backward=backward, reverse=reverse)
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            repository = CustomerRepository(session, tenant.merchant_id)
            page: Page[Any]
            if driver:
                page = await repository.customers_page(request, comparisons, sort_key=sort_key)
            else:
                page = await repository.paginate_records(
                    request,
                    *_as_sqlalchemy(comparisons),
                    keyset=CUSTOMER_SORT_KEYS[sort_key],
                    tag=sort_key,
                )
        records: list[Any] = list(page.rows)
        pages.append([tuple(row) for row in records])
        more = page.has_previous_page if backward else page.has_next_page
        if not more or not page.rows:
            return pages
        edge = page.rows[0] if backward else page.rows[-1]
        cursor = customer_position(edge, sort_key)


@pytest.mark.parametrize("sort_key", sorted(CUSTOMER_SORT_KEYS))
@pytest.mark.parametrize(("backward", "reverse"), [(False, False), (True, False), (False, True)])
async def test_every_page_matches_what_sqlalchemy_reads(
    resources: Resources,
    tenant: Tenant,
    other_tenant: Tenant,
    sort_key: str,
    backward: bool,
    reverse: bool,
) -> None:
    for points in BALANCES:
        await add_customer(resources, tenant, points=points)
        await add_customer(resources, other_tenant, points=points)
    # Values that need their type's processing too: a JSON document, Decimals, timestamps.
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await session.execute(
            text(
                "UPDATE customers SET rfm_score = jsonb_build_object('r', points_balance % 5), "
                "total_spent = points_balance / 8.0, churn_score = 0.125, "
                "first_order_at = now() WHERE merchant_id = :merchant AND points_balance > 10"
            ),
            {"merchant": tenant.merchant_id},
        )
    filters: list[tuple[list[Comparison], Any]] = [
        ([], lambda balance: True),
        ([compare("points_balance", "<=", Decimal(100))], lambda balance: balance <= 100),
        ([compare("points_balance", None, Decimal(5))], lambda balance: balance == 5),
    ]

    for comparisons, kept in filters:
        driver, sqlalchemy = [
            await _walk(
                resources,
                tenant,
                driver=on_driver,
                sort_key=sort_key,
                backward=backward,
                reverse=reverse,
                comparisons=comparisons,
            )
            for on_driver in (True, False)
        ]

        assert driver == sqlalchemy
        rows = [row for page in driver for row in page]
        balances = [row[COLUMNS.index("points_balance")] for row in rows]
        assert sorted(balances) == sorted(filter(kept, BALANCES))
        assert len({row[COLUMNS.index("id")] for row in rows}) == len(rows)
        assert all(row[COLUMNS.index("merchant_id")] == tenant.merchant_id for row in rows)
        scores = [row[COLUMNS.index("rfm_score")] for row in rows]
        assert all(score is None or isinstance(score, dict) for score in scores)


async def test_one_template_per_shape_whatever_the_values(
    resources: Resources, tenant: Tenant
) -> None:
    for points in (1, 2, 3):
        await add_customer(resources, tenant, points=points)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        repository = CustomerRepository(session, tenant.merchant_id)
        first = await repository.customers_page(
            PageRequest(limit=10), [compare("points_balance", "<=", Decimal(1))]
        )
        templates = len(TEMPLATES._compiled)
        second = await repository.customers_page(
            PageRequest(limit=10), [compare("points_balance", "<=", Decimal(2))]
        )
        same_shape = len(TEMPLATES._compiled)
        other = await repository.customers_page(
            PageRequest(limit=10), [compare("points_balance", ">=", Decimal(2))]
        )

    assert [row.points_balance for row in first.rows] == [1]
    assert sorted(row.points_balance for row in second.rows) == [1, 2]
    assert sorted(row.points_balance for row in other.rows) == [2, 3]
    assert same_shape == templates
    assert len(TEMPLATES._compiled) == templates + 1


# Statements fixed at import, as the ledger's are: a read of every customer column, and an
# update whose check constraint (balance >= 0) and types Postgres enforces.
_CUSTOMER_BY_ID = CompiledStatement.of(
    select(*Customer.__table__.columns).where(
        Customer.merchant_id == bindparam("merchant_id"), Customer.id == bindparam("id")
    )
)
_MOVE_BALANCE = CompiledStatement.of(
    text(
        "UPDATE customers SET points_balance = points_balance + CAST(:points AS bigint) "
        "WHERE merchant_id = :merchant_id AND id = :id RETURNING points_balance"
    ).columns(Customer.__table__.c.points_balance)
)


async def _customer_row(session: Any, tenant: Tenant, customer_id: str) -> dict[str, Any]:
    rows = await run(
        session, _CUSTOMER_BY_ID, {"merchant_id": tenant.merchant_id, "id": customer_id}
    )
    return dict(zip(COLUMNS, rows[0], strict=True))


async def test_a_loaded_row_is_a_clean_persistent_entity(
    resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=7)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        customer = loaded(session, Customer, await _customer_row(session, tenant, customer_id))
        state = inspect(customer)
        assert state.persistent
        assert not session.dirty
        assert not session.new
        # The session's own lookup finds it, without a statement, as for a loaded row.
        assert await session.get(Customer, (tenant.merchant_id, customer_id)) is customer
        assert customer.points_balance == 7
        await session.flush()
        assert not state.modified


async def test_a_loaded_row_refreshes_the_entity_the_session_already_holds(
    resources: Resources, tenant: Tenant
) -> None:
    customer_id = await add_customer(resources, tenant, points=7)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        held = await session.get(Customer, (tenant.merchant_id, customer_id))
        assert held is not None
        assert held.points_balance == 7
        moved = await run(
            session,
            _MOVE_BALANCE,
            {"merchant_id": tenant.merchant_id, "id": customer_id, "points": 5},
        )
        assert moved[0][0] == 12
        again = loaded(session, Customer, await _customer_row(session, tenant, customer_id))
        assert again is held
        assert held.points_balance == 12
        assert not session.dirty


async def test_a_driver_statement_fails_as_sqlalchemy_would_have(
    resources: Resources, tenant: Tenant
) -> None:
    """The worker retries or fails a delivery by SQLAlchemy's exception types (a data exception
    is permanent), and the unit of work rolls back on them: a driver statement's error must be
    one of them, and leave nothing behind."""
    customer_id = await add_customer(resources, tenant, points=7)
    values = {"merchant_id": tenant.merchant_id, "id": customer_id}
    with pytest.raises(IntegrityError) as below_zero:
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await run(session, _MOVE_BALANCE, {**values, "points": -8})
    assert getattr(below_zero.value.orig, "sqlstate", None) == "23514"
    with pytest.raises(DBAPIError) as overflow:
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await run(session, _MOVE_BALANCE, {**values, "points": 2**62 * 2 - 1})
    assert is_permanent(overflow.value)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        assert (await _customer_row(session, tenant, customer_id))["points_balance"] == 7


async def test_many_values_run_in_turn_and_fail_as_one_statement_would(
    resources: Resources, tenant: Tenant
) -> None:
    """``run_many``: every set of values applied, in order, in the caller's transaction; when
    one fails, the error is SQLAlchemy's and none of the others stays."""
    customer_id = await add_customer(resources, tenant, points=7)
    values = {"merchant_id": tenant.merchant_id, "id": customer_id}
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        await run_many(session, _MOVE_BALANCE, [{**values, "points": n} for n in (5, -10, 3)])
        assert (await _customer_row(session, tenant, customer_id))["points_balance"] == 5
    # -6 is fine after +1 (in turn), and the third takes the balance below zero.
    with pytest.raises(IntegrityError) as below_zero:
        async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
            await run_many(session, _MOVE_BALANCE, [{**values, "points": n} for n in (1, -6, -1)])
    assert getattr(below_zero.value.orig, "sqlstate", None) == "23514"
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        assert (await _customer_row(session, tenant, customer_id))["points_balance"] == 5
