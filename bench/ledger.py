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
import atexit
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from cli.embedded import start_postgres
from db.crypto import FieldCipher, generate_key
from db.migrate import upgrade
from db.session import (
    create_engine,
    create_session_factory,
    system_unit_of_work,
    tenant_unit_of_work,
    to_async_url,
)
from subgraphs.admin.service import install_merchant
from subgraphs.points.service import ledger
from subgraphs.points.service.calculation import EarnAction, Order, OrderLine
from subgraphs.points.service.customers import register_customer
from subgraphs.points.service.program import Channel

TPS_LINE = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)


# --- the server -----------------------------------------------------------------------------


@dataclass
class Server:
    """A Postgres server and the URL of a database on it to create scratch databases from."""

    admin_url: str
    description: str
    pgbench: str

    def url(self, database: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{database}"))


def _bundled_pgbench() -> str:
    import pgserver

    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("pgbench")
    if found is None:
        raise SystemExit("pgbench not found: install pgserver or PostgreSQL client tools")
    return found


@contextmanager
def postgres_server() -> Iterator[Server]:
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield Server(configured, "DATABASE_URL", _bundled_pgbench())
        return
    scratch = Path(tempfile.mkdtemp(prefix="loyalnest-bench-"))
    # Registered before pgserver registers its own exit handler, so it runs after it: that
    # handler still touches a lock file under the runtime directory set below.
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    # pgserver asks platformdirs for a runtime directory and warns when none is set.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(scratch / "run"))
    (scratch / "run").mkdir(mode=0o700, exist_ok=True)
    embedded = start_postgres(scratch)
    try:
        yield Server(
            embedded.url("postgres"), f"embedded pgserver in {scratch}", _bundled_pgbench()
        )
    finally:
        embedded.server.cleanup()


async def _execute(url: str, statement: str) -> Any:
    """The first value of the first row, if the statement returns rows."""
    # CREATE / DROP DATABASE cannot run inside a transaction.
    engine = create_async_engine(to_async_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


async def _admin(server: Server, statement: str) -> None:
    await _execute(server.admin_url, statement)


async def create_database(server: Server, name: str) -> str:
    await _admin(server, f'CREATE DATABASE "{name}"')
    return server.url(name)


async def drop_database(server: Server, name: str) -> None:
    await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def server_version(url: str) -> str:
    return str(await _execute(url, "SHOW server_version"))


# --- (a) awards through the service ---------------------------------------------------------


@dataclass
class AwardResult:
    awards: int = 0
    errors: int = 0
    seconds: float = 0.0
    statements: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.awards / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0


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


async def setup_tenant(
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


async def award_points(
    url: str, *, seconds: float, concurrency: int, customers: int
) -> AwardResult:
    engine = create_engine(url, pool_size=concurrency)
    sessions = create_session_factory(engine)
    result = AwardResult()
    try:
        merchant_id, customer_ids = await setup_tenant(sessions, customers)
        # Warm-up (connections, statement caches) is not measured.
        await asyncio.gather(
            *(
                _award(sessions, merchant_id, customer_ids[n], f"warm-{n}")
                for n in range(concurrency)
            )
        )

        def count(*_args: Any) -> None:
            result.statements += 1

        event.listen(engine.sync_engine, "before_cursor_execute", count)
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

        started = time.perf_counter()
        await asyncio.gather(*(worker(index) for index in range(concurrency)))
        result.seconds = time.perf_counter() - started
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    finally:
        await engine.dispose()
    return result


# --- (b) pgbench TPC-B ----------------------------------------------------------------------


def _pgbench_connection(url: str) -> tuple[list[str], dict[str, str]]:
    """pgbench options and environment for a postgresql:// URL (TCP or a unix socket dir)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or ""])[0]
    options = ["-U", unquote(parts.username or "postgres")]
    if host:
        options += ["-h", host]
    if parts.port:
        options += ["-p", str(parts.port)]
    env = {**os.environ}
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return options, env


def pgbench_tps(pgbench: str, url: str, *, seconds: int, clients: int, threads: int) -> float:
    options, env = _pgbench_connection(url)
    database = urlsplit(url).path.lstrip("/")
    subprocess.run(
        [pgbench, *options, "-i", "-s", "1", "-q", database],
        env=env,
        check=True,
        capture_output=True,
    )
    run = subprocess.run(
        [pgbench, *options, "-c", str(clients), "-j", str(threads), "-T", str(seconds), database],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    match = TPS_LINE.search(run.stdout)
    if match is None:
        raise RuntimeError(f"no tps line in pgbench output:\n{run.stdout}\n{run.stderr}")
    return float(match.group(1))


# --- main -----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="award phase duration")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent award tasks")
    parser.add_argument("--customers", type=int, default=400, help="customers awarded to")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--pgbench-clients", type=int, default=8)
    parser.add_argument("--pgbench-threads", type=int, default=2)
    return parser.parse_args()


async def main(server: Server, args: argparse.Namespace) -> None:
    suffix = uuid.uuid4().hex[:8]
    app_db, tpcb_db = f"bench_ledger_{suffix}", f"bench_pgbench_{suffix}"
    app_url = await create_database(server, app_db)
    tpcb_url = await create_database(server, tpcb_db)
    try:
        await asyncio.to_thread(upgrade, app_url)
        version = await server_version(app_url)
        awards = await award_points(
            app_url, seconds=args.seconds, concurrency=args.concurrency, customers=args.customers
        )
        tps = await asyncio.to_thread(
            pgbench_tps,
            server.pgbench,
            tpcb_url,
            seconds=args.pgbench_seconds,
            clients=args.pgbench_clients,
            threads=args.pgbench_threads,
        )
    finally:
        await drop_database(server, app_db)
        await drop_database(server, tpcb_db)

    ratio = awards.per_second / tps if tps else float("nan")
    print(f"LoyalNest ledger benchmark — PostgreSQL {version}, {server.description}")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print()
    print(
        f"(a) points awards via ledger.earn (PURCHASE orders): {args.concurrency} tasks, "
        f"{args.customers} customers, {awards.seconds:.1f} s"
    )
    print(
        f"    awards/s             {awards.per_second:10.1f}"
        f"   ({awards.awards} awards, {awards.errors} errors)"
    )
    if awards.latencies:
        mean = statistics.fmean(awards.latencies) * 1000
        print(
            f"    latency ms           p50 {awards.percentile(0.5):.1f}  p95 "
            f"{awards.percentile(0.95):.1f}  p99 {awards.percentile(0.99):.1f}  max "
            f"{max(awards.latencies) * 1000:.1f}  (mean {mean:.1f})"
        )
    if awards.awards:
        print(f"    SQL statements/award {awards.statements / awards.awards:10.1f}")
    print()
    print(
        f"(b) pgbench TPC-B, scale 1: -c {args.pgbench_clients} -j {args.pgbench_threads} "
        f"-T {args.pgbench_seconds}"
    )
    print(f"    TPS                  {tps:10.1f}")
    print()
    print(f"ratio awards/s ÷ TPC-B TPS = {ratio:.3f}")


if __name__ == "__main__":
    arguments = parse_args()
    with postgres_server() as pg:
        asyncio.run(main(pg, arguments))
