"""Customer data import: a 50,000-row Smile.io (or LoyaltyLion) export previewed, committed,
sent again and reverted through the service, against pgbench TPC-B on the same Postgres in the
same run.

    .venv/bin/python bench/imports.py [--rows 50000] [--existing 10000] [--source loyaltylion]

Without DATABASE_URL it starts an embedded Postgres in a temporary directory and removes it
afterwards. ``--existing`` of the file's customers are in the shop before the import (loaded
by a Shopify-export import, not measured), so the dry run and the commit match emails against
the shop, create the others and credit everyone. Reported: seconds and rows/s of each step,
SQL statements per step (the same for any file size), and the ratio of committed rows/s to
TPC-B TPS; the goal is 50,000 rows committed in at most 10 s.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from harness import Bench, count_statements, run

# The project's code: these paths move with it.
from db.crypto import FieldCipher, generate_key
from db.models import DataImportSource
from db.session import (
    create_engine,
    create_session_factory,
    system_unit_of_work,
    tenant_unit_of_work,
)
from subgraphs.admin.merchants.service import install_merchant
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.imports.revert import revert_import
from subgraphs.points.imports.service import ImportRequest, import_file

GOAL_SECONDS = 10.0
ResultT = TypeVar("ResultT")


def smile_export(rows: int, seed: int = 1) -> bytes:
    """A Smile.io customer export of ``rows`` customers with random balances."""
    rng = random.Random(seed)
    lines = ["id,first_name,last_name,email,state,date_of_birth,points_balance,created_at"]
    for n in range(rows):
        lines.append(
            f"{300_000_000 + n},First{n},Last{n},customer{n}@bench.example,member,"
            f"1990-{1 + n % 12:02d}-{1 + n % 28:02d},{rng.randint(0, 5000)},2024-03-01T10:00:00Z"
        )
    return "\n".join(lines).encode()


def loyaltylion_export(rows: int, seed: int = 1) -> bytes:
    """A LoyaltyLion customer export of the same customers (its Shopify ids the Shopify
    export's), approved points at random."""
    rng = random.Random(seed)
    lines = [
        "id,merchant_id,email,points_approved,points_pending,points_spent,enrolled,"
        "enrolled_at,birthday,tier"
    ]
    for n in range(rows):
        lines.append(
            f"{n},{7_000_000_000 + n},customer{n}@bench.example,{rng.randint(0, 5000)},0,0,true,"
            f"2024-03-01T10:00:00Z,1990-{1 + n % 12:02d}-{1 + n % 28:02d},"
        )
    return "\n".join(lines).encode()


EXPORTS = {
    DataImportSource.SMILE: ("Smile.io", smile_export),
    DataImportSource.LOYALTYLION: ("LoyaltyLion", loyaltylion_export),
}


def shopify_export(rows: int) -> bytes:
    lines = ["Customer ID,Email,Default Address Country Code"]
    lines += [f"'{7_000_000_000 + n},customer{n}@bench.example,US" for n in range(rows)]
    return "\n".join(lines).encode()


async def scenario(bench: Bench, args: argparse.Namespace) -> None:
    engine = create_engine(bench.url, pool_size=2)
    sessions = create_session_factory(engine)
    cipher = FieldCipher.from_config(f"bench:{generate_key()}", generate_key())
    async with system_unit_of_work(sessions) as session:
        merchant = await install_merchant(session, f"imp-{uuid.uuid4().hex[:8]}.myshopify.com")
    merchant_id = merchant.id

    async def imported(content: bytes, source: DataImportSource, *, dry_run: bool):  # type: ignore[no-untyped-def]
        request = ImportRequest(source=source, content=content, dry_run=dry_run)
        async with tenant_unit_of_work(sessions, merchant_id) as session:
            return await import_file(WriteContext(session, merchant_id), cipher, request)

    source = DataImportSource(args.source)
    source_name, export = EXPORTS[source]
    lines = [
        f"(a) import of a {args.rows:,}-row {source_name} export "
        f"({args.existing:,} already customers)"
    ]

    async def timed(
        label: str, rows: int, step: Callable[[], Awaitable[ResultT]]
    ) -> tuple[float, ResultT]:
        with count_statements(engine) as statements:
            started = time.perf_counter()
            result = await step()
            seconds = time.perf_counter() - started
        lines.append(
            f"    {label:<22} {seconds:7.2f} s  {rows / seconds:10,.0f} rows/s"
            f"   SQL statements {statements.count}"
        )
        return seconds, result

    try:
        if args.existing:
            await imported(shopify_export(args.existing), DataImportSource.SHOPIFY, dry_run=False)
        content = export(args.rows)
        await timed("dry run", args.rows, lambda: imported(content, source, dry_run=True))
        commit_seconds, outcome = await timed(
            "commit", args.rows, lambda: imported(content, source, dry_run=False)
        )
        made = outcome.data_import
        lines.append(
            f"        created {made.create_count:,}, credited {made.update_count:,}, "
            f"skipped {made.skip_count:,}, {made.points_total:,} points"
        )
        _, replay = await timed(
            "same file again",
            args.rows,
            lambda: imported(content, source, dry_run=False),
        )
        assert replay.replayed, "the same file is applied once"

        async def revert():  # type: ignore[no-untyped-def]
            async with tenant_unit_of_work(sessions, merchant_id) as session:
                return await revert_import(WriteContext(session, merchant_id), made.id)

        await timed("revert", args.rows, revert)
    finally:
        await engine.dispose()
    bench.report.add(lines)
    bench.report.goal(
        f"commit of {args.rows:,} rows",
        commit_seconds,
        at_most=GOAL_SECONDS * args.rows / 50_000,
        unit=" s",
    )
    bench.report.ratio("import rows committed/s", args.rows / commit_seconds)


def parser() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    options.add_argument("--rows", type=int, default=50_000, help="rows of the file")
    options.add_argument(
        "--source",
        choices=[source.value for source in EXPORTS],
        default=DataImportSource.SMILE.value,
        help="whose export format",
    )
    options.add_argument(
        "--existing", type=int, default=10_000, help="of them, customers before the import"
    )
    return options


if __name__ == "__main__":
    run("imports", parser(), scenario, floor="(b)")
