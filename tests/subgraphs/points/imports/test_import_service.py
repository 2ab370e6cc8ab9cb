"""Dry run, commit, replay and revert of an import, against the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from db.models import Customer, DataImport, DataImportSource, DataImportStatus, PointsTransaction
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.imports.revert import RevertOutcome, revert_import
from subgraphs.points.ledger.service import PointsMovement, redeem
from tests.conftest import StatementCounter, Tenant, add_customer
from tests.subgraphs.points.imports.helpers import (
    BAD_ROWS_MAPPING,
    assert_invariants,
    balances,
    ledger_totals,
    run,
    sample,
)


async def _revert(
    resources: Resources, tenant: Tenant, import_id: str, **kw: object
) -> RevertOutcome:
    now = kw.pop("now", datetime.now(UTC))
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        return await revert_import(
            WriteContext(session, tenant.merchant_id, now=now),  # type: ignore[arg-type]
            import_id,
        )


async def test_dry_run_previews_and_writes_nothing_but_the_import(
    resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, email="jane@example.com", points=10)
    await add_customer(resources, tenant, email="ana@example.com")
    before = await ledger_totals(resources, tenant)

    outcome = await run(resources, tenant, DataImportSource.SMILE, sample("smile.csv"))

    preview = outcome.data_import
    assert preview.status == DataImportStatus.PREVIEWED
    # jane is credited, john is new, ana exists with 0 points to bring: skipped.
    assert (preview.create_count, preview.update_count, preview.skip_count) == (1, 1, 1)
    assert preview.points_total == 1550
    assert preview.error_log == []
    assert await ledger_totals(resources, tenant) == before
    assert set(await balances(resources, tenant)) == {"jane@example.com", "ana@example.com"}


async def test_commit_credits_every_balance_once_through_the_ledger(
    resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, email="jane@example.com", points=10)

    outcome = await run(
        resources, tenant, DataImportSource.SMILE, sample("smile.csv"), dry_run=False
    )

    assert outcome.data_import.status == DataImportStatus.COMMITTED
    assert await balances(resources, tenant) == {
        "jane@example.com": 1210,
        "john.roe@example.com": 350,
        "ana@example.com": 0,
    }
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        entries = (
            await session.scalars(
                select(PointsTransaction).where(PointsTransaction.kind == "import")
            )
        ).all()
        john = await session.scalar(
            select(Customer).where(
                Customer.email_blind_index
                == resources.cipher.blind_index("john.roe@example.com", context="customers.email")
            )
        )
    assert sorted(entry.points for entry in entries) == [350, 1200]
    assert {entry.idempotency_key for entry in entries} == {
        f"import:{outcome.data_import.id}:2",
        f"import:{outcome.data_import.id}:3",
    }
    # Stored like any customer: encrypted, found by the blind index.
    assert john is not None
    assert "john" not in john.email_encrypted
    await assert_invariants(resources, tenant)


async def test_the_same_import_twice_changes_nothing(resources: Resources, tenant: Tenant) -> None:
    first = await run(
        resources, tenant, DataImportSource.LOYALTYLION, sample("loyaltylion.csv"), dry_run=False
    )
    after_first = (await ledger_totals(resources, tenant), await balances(resources, tenant))

    second = await run(
        resources, tenant, DataImportSource.LOYALTYLION, sample("loyaltylion.csv"), dry_run=False
    )

    assert second.replayed
    assert second.data_import.id == first.data_import.id
    assert (
        await ledger_totals(resources, tenant),
        await balances(resources, tenant),
    ) == after_first
    assert after_first[1]["nu@example.com"] == 2750


async def test_a_key_reused_for_another_file_is_refused(
    resources: Resources, tenant: Tenant
) -> None:
    await run(
        resources,
        tenant,
        DataImportSource.SMILE,
        sample("smile.csv"),
        dry_run=False,
        idempotency_key="switch",
    )
    with pytest.raises(PointsError) as refused:
        await run(
            resources,
            tenant,
            DataImportSource.LOYALTYLION,
            sample("loyaltylion.csv"),
            dry_run=False,
            idempotency_key="switch",
        )
    assert refused.value.code is PointsErrorCode.IDEMPOTENCY_KEY_REUSED


async def test_bad_rows_are_logged_and_block_the_commit_unless_skipped(
    resources: Resources, tenant: Tenant
) -> None:
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        holder = await add_customer(resources, tenant, email="holder@example.com")
        await session.execute(
            update(Customer).where(Customer.id == holder).values(shopify_customer_id="333")
        )
    content = sample("bad_rows.csv")
    preview = (
        await run(resources, tenant, DataImportSource.CUSTOM, content, mapping=BAD_ROWS_MAPPING)
    ).data_import
    logged = {(entry["row"], entry["column"], entry["code"]) for entry in preview.error_log}
    assert (20, "shopify_id", "shopify_customer_id_taken") in logged
    assert (3, "email", "invalid_email") in logged
    assert preview.error_count == 18
    assert preview.create_count == 1

    with pytest.raises(PointsError) as refused:
        await run(
            resources,
            tenant,
            DataImportSource.CUSTOM,
            content,
            mapping=BAD_ROWS_MAPPING,
            dry_run=False,
        )
    assert refused.value.code is PointsErrorCode.IMPORT_HAS_ERRORS
    assert set(await balances(resources, tenant)) == {"holder@example.com"}

    committed = await run(
        resources,
        tenant,
        DataImportSource.CUSTOM,
        content,
        mapping=BAD_ROWS_MAPPING,
        dry_run=False,
        skip_invalid_rows=True,
    )
    assert committed.data_import.create_count == 1
    assert (await balances(resources, tenant))["ok@example.com"] == 100


async def test_a_commit_that_fails_midway_leaves_nothing(
    resources: Resources, tenant: Tenant
) -> None:
    # A real failure inside the transaction, after the customers were copied in: the ledger
    # refuses one row (a trigger planted on this merchant's ledger only).
    function = f"fail_import_{tenant.merchant_id.replace('-', '')}"
    async with system_unit_of_work(resources.sessions) as session:
        await session.execute(
            text(
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.merchant_id = '{tenant.merchant_id}' AND NEW.points = 350 THEN "
                "RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$"
            )
        )
        await session.execute(
            text(
                f"CREATE TRIGGER {function} BEFORE INSERT ON points_transactions "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
        )
    try:
        with pytest.raises(Exception, match="disk full"):
            await run(resources, tenant, DataImportSource.SMILE, sample("smile.csv"), dry_run=False)
    finally:
        async with system_unit_of_work(resources.sessions) as session:
            await session.execute(text(f"DROP TRIGGER {function} ON points_transactions"))
            await session.execute(text(f"DROP FUNCTION {function}()"))
    assert await balances(resources, tenant) == {}
    assert await ledger_totals(resources, tenant) == (0, 0, 0, 0)
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        assert (await session.scalars(select(DataImport))).all() == []
    # Nothing half-done blocks the retry.
    retried = await run(
        resources, tenant, DataImportSource.SMILE, sample("smile.csv"), dry_run=False
    )
    assert not retried.replayed
    assert (await balances(resources, tenant))["jane@example.com"] == 1200


async def test_revert_restores_every_balance_and_removes_untouched_new_customers(
    resources: Resources, tenant: Tenant
) -> None:
    await add_customer(resources, tenant, email="jane@example.com", points=10)
    before = await balances(resources, tenant)
    outcome = await run(
        resources, tenant, DataImportSource.SMILE, sample("smile.csv"), dry_run=False
    )

    reverted = await _revert(resources, tenant, outcome.data_import.id)

    assert not reverted.replayed
    assert reverted.data_import.status == DataImportStatus.REVERTED
    assert reverted.data_import.reverted_points == 1550
    assert reverted.data_import.revert_shortfall == 0
    # john and ana came with the import and did nothing since: gone. jane is back at 10.
    assert reverted.data_import.removed_customers == 2
    assert await balances(resources, tenant) == before
    await assert_invariants(resources, tenant)

    again = await _revert(resources, tenant, outcome.data_import.id)
    assert again.replayed
    assert await balances(resources, tenant) == before


async def test_revert_never_takes_back_what_was_spent_and_says_by_how_much(
    resources: Resources, tenant: Tenant
) -> None:
    outcome = await run(
        resources, tenant, DataImportSource.SMILE, sample("smile.csv"), dry_run=False
    )
    async with tenant_unit_of_work(resources.sessions, tenant.merchant_id) as session:
        jane = await session.scalar(
            select(Customer.id).where(
                Customer.email_blind_index
                == resources.cipher.blind_index("jane@example.com", context="customers.email")
            )
        )
        assert jane is not None
        await redeem(
            session,
            tenant.merchant_id,
            PointsMovement(jane, 1000, "a reward", "spend:jane", "reward"),
            now=datetime.now(UTC),
        )

    reverted = await _revert(resources, tenant, outcome.data_import.id)

    assert reverted.data_import.revert_shortfall == 1000
    assert reverted.data_import.reverted_points == 550
    # jane spent, so she stays (at 0); john and ana are removed.
    assert await balances(resources, tenant) == {"jane@example.com": 0}
    assert reverted.data_import.removed_customers == 2
    await assert_invariants(resources, tenant)


async def test_revert_is_refused_for_dry_runs_old_imports_and_unknown_ids(
    resources: Resources, tenant: Tenant
) -> None:
    preview = await run(resources, tenant, DataImportSource.SMILE, sample("smile.csv"))
    committed = await run(
        resources, tenant, DataImportSource.SMILE, sample("smile.csv"), dry_run=False
    )
    later = datetime.now(UTC) + timedelta(days=31)
    for import_id, now, code in (
        (preview.data_import.id, datetime.now(UTC), PointsErrorCode.IMPORT_NOT_REVERTIBLE),
        (committed.data_import.id, later, PointsErrorCode.IMPORT_NOT_REVERTIBLE),
        ("no-such-import", datetime.now(UTC), PointsErrorCode.IMPORT_NOT_FOUND),
    ):
        with pytest.raises(PointsError) as refused:
            await _revert(resources, tenant, import_id, now=now)
        assert refused.value.code is code


def _generated(rows: int) -> bytes:
    lines = ["email,points"] + [f"c{n}@example.com,{n + 1}" for n in range(rows)]
    return "\n".join(lines).encode()


async def test_a_commit_costs_the_same_statements_for_3_rows_as_for_300(
    resources: Resources, tenant: Tenant, other_tenant: Tenant, count_statements: StatementCounter
) -> None:
    await run(resources, tenant, DataImportSource.SMILE, _generated(3), dry_run=False)
    small = count_statements.count
    await run(resources, other_tenant, DataImportSource.SMILE, _generated(300), dry_run=False)
    assert count_statements.count - small == small
    assert sum((await balances(resources, other_tenant)).values()) == 300 * 301 // 2
