"""Ledger throughput: points awards per second through the service, against pgbench TPC-B on the
same Postgres in the same run.

    .venv/bin/python bench/ledger.py [--seconds 10] [--concurrency 8] [--customers 400]

Without DATABASE_URL it starts an embedded Postgres (pgserver) in a temporary directory and
removes it afterwards; with DATABASE_URL it creates two scratch databases on that server (the
role needs CREATEDB) and drops them afterwards.

Absolute numbers depend on the machine; the ratio (awards/s divided by TPC-B TPS) is what to
compare across machines and commits. Both workloads commit one transaction per operation, so
the ratio says how many TPC-B transactions one award costs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from harness import (
    Bench,
    Cost,
    Meter,
    autocommit_connection,
    count_statements,
    latency_line,
    run,
    scenario_parser,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# The project's code: these paths move with it.
from db.crypto import FieldCipher, generate_key
from db.session import (
    create_engine,
    create_session_factory,
    system_unit_of_work,
    tenant_unit_of_work,
)
from subgraphs.admin.merchants.service import install_merchant
from subgraphs.points.customers.service import register_customer
from subgraphs.points.ledger import service as ledger
from subgraphs.points.program.calculation import EarnAction, Order, OrderLine
from subgraphs.points.program.service import Channel


@dataclass
class Awards:
    awards: int = 0
    errors: int = 0
    seconds: float = 0.0
    statements: int = 0
    cost: Cost = field(default_factory=Cost)
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.awards / self.seconds if self.seconds else 0.0


def _order(order_id: str, cents: int) -> Order:
    return Order(
        order_id=order_id,
        currency="USD",
        lines=(OrderLine(f"{order_id}-1", 1, Decimal(cents) / 100),),
        channel=Channel.ONLINE,
        placed_at=datetime.now(UTC),
    )


async def _award(
    sessions: async_sessionmaker[AsyncSession], merchant_id: str, customer_id: str, order_id: str
) -> None:
    command = ledger.EarnCommand(
        customer_id, EarnAction.PURCHASE, f"order:{order_id}", _order(order_id, 4999)
    )
    async with tenant_unit_of_work(sessions, merchant_id) as session:
        await ledger.earn(session, merchant_id, command, now=datetime.now(UTC))


async def _setup_tenant(
    sessions: async_sessionmaker[AsyncSession], customers: int
) -> tuple[str, list[str]]:
    cipher = FieldCipher.from_config(f"bench:{generate_key()}", generate_key())
    async with system_unit_of_work(sessions) as session:
        merchant = await install_merchant(session, f"bench-{uuid.uuid4().hex[:8]}.myshopify.com")
    customer_ids = []
    async with tenant_unit_of_work(sessions, merchant.id) as session:
        for n in range(customers):
            customer_ids.append(
                await register_customer(
                    session, merchant.id, cipher, email=f"customer{n}@bench.example"
                )
            )
    return merchant.id, customer_ids


async def award_points(url: str, *, seconds: float, concurrency: int, customers: int) -> Awards:
    engine = create_engine(url, pool_size=concurrency)
    sessions = create_session_factory(engine)
    result = Awards()
    try:
        merchant_id, customer_ids = await _setup_tenant(sessions, customers)
        # Warm-up (connections, statement caches) is not measured.
        await asyncio.gather(
            *(
                _award(sessions, merchant_id, customer_ids[n], f"warm-{n}")
                for n in range(concurrency)
            )
        )
        deadline = time.perf_counter() + seconds

        async def worker(index: int) -> None:
            # Each task has its own customers: the ledger locks per customer, and real awards
            # rarely hit one customer concurrently.
            mine = customer_ids[index::concurrency]
            n = 0
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    await _award(sessions, merchant_id, mine[n % len(mine)], f"o-{index}-{n}")
                except Exception as error:
                    result.errors += 1
                    if result.errors == 1:
                        print(f"first award error: {error!r}", file=sys.stderr)
                else:
                    result.awards += 1
                    result.latencies.append(time.perf_counter() - started)
                n += 1

        async with autocommit_connection(url) as connection:
            meter = Meter(connection)
            await meter.watch_postmaster()
            with count_statements(engine) as statements:
                async with meter.measure(["client", "postgres"]) as cost:
                    started = time.perf_counter()
                    await asyncio.gather(*(worker(index) for index in range(concurrency)))
                    result.seconds = time.perf_counter() - started
        result.cost = cost
        result.statements = statements.count
    finally:
        await engine.dispose()
    return result


async def scenario(bench: Bench, args: argparse.Namespace) -> None:
    awards = await award_points(
        bench.url, seconds=args.seconds, concurrency=args.concurrency, customers=args.customers
    )
    section = [
        f"(a) points awards via ledger.earn (PURCHASE orders): {args.concurrency} tasks, "
        f"{args.customers} customers, {awards.seconds:.1f} s",
        f"    awards/s             {awards.per_second:10.1f}"
        f"   ({awards.awards} awards, {awards.errors} errors)",
        f"    latency ms           {latency_line(awards.latencies)}",
    ]
    if awards.awards:
        section.append(f"    SQL statements/award {awards.statements / awards.awards:10.1f}")
        # "client" is this process: the service code (Python); "postgres" its backends.
        section.extend(awards.cost.lines(awards.awards, "award"))
    bench.report.add(section)
    bench.report.ratio("awards/s", awards.per_second, at_least=0.5)


def parser() -> argparse.ArgumentParser:
    options = scenario_parser(__doc__)
    options.add_argument("--seconds", type=float, default=10.0, help="award phase duration")
    options.add_argument("--concurrency", type=int, default=8, help="concurrent award tasks")
    options.add_argument("--customers", type=int, default=400, help="customers awarded to")
    return options


if __name__ == "__main__":
    run("ledger", parser(), scenario, floor="(b)")
