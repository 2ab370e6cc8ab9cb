"""Webhook throughput: deliveries accepted per second at the shim and orders processed per
second end to end, against pgbench TPC-B on the same Postgres in the same run.

    .venv/bin/python bench/webhooks.py [--deliveries 2000] [--concurrency 32]

The edge app (`loyalnest serve edge`) and the worker (`loyalnest worker`) run as real
processes, with their default settings, over an embedded Postgres (pgserver, in a temporary
directory) and an embedded Redis; all of it is removed afterwards. With DATABASE_URL it creates
two scratch databases on that server instead (the role needs CREATEDB) and drops them. Redis is
always embedded: a worker already listening on a shared Redis would take our jobs.

(a) the shim alone: --deliveries signed orders/paid webhooks from --concurrency senders, no
    worker running; every delivery must be accepted and land in the inbox.
(b) a fresh worker process drains that inbox.
(c) steady load: with the worker running, deliveries arrive at a share of the rate measured
    in (b) for --steady-seconds; the delay from the inbox commit to the processed order is
    read back from the rows.
(d) SQL statements per delivery and per order, counted in this process on a small sample
    (the shim's app over an in-process transport, then the worker's process_delivery).
(e) pgbench TPC-B on a scratch database of the same server.

Each phase also reports write transactions per delivery (from Postgres' transaction ids), the
Postgres connections opened, and CPU time per delivery by process (from /proc; Linux only).
Absolute numbers depend on the machine; the ratios to TPC-B TPS are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
from ledger import (
    Server,
    create_database,
    drop_database,
    pgbench_tps,
    postgres_server,
    server_version,
)
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from cli.embedded import EmbeddedRedis, free_port, start_redis
from cli.stack import REPO_ROOT
from db.crypto import generate_key
from db.migrate import upgrade
from db.session import (
    create_engine,
    create_session_factory,
    system_unit_of_work,
    tenant_unit_of_work,
    to_async_url,
)
from gateway.edge.app import create_edge_app
from gateway.edge.webhooks.verification import webhook_signature
from subgraphs.admin.service import install_merchant
from subgraphs.kit.observability import configure_logging
from subgraphs.kit.resources import open_resources
from subgraphs.kit.settings import Settings
from worker.webhooks.processing import DeliveryOutcome, process_delivery

APP_SECRET = "bench-app-secret"  # noqa: S105 - a throwaway secret shared with the shim
CUSTOMERS = 50
# Deliveries whose SQL statements are counted in (d).
STATEMENT_SAMPLE = 50
SETTINGS_FROM_ENV = (
    "DATABASE_URL",
    "REDIS_URL",
    "LOYALNEST_ENCRYPTION_KEYS",
    "LOYALNEST_BLIND_INDEX_KEY",
    "SHOPIFY_API_SECRET",
    "SHOPIFY_API_KEY",
    "LOYALNEST_DATA_DIR",
)
WEBHOOK_PATH = "/webhooks/shopify"


# --- deliveries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    body: bytes
    headers: dict[str, str]


def order_delivery(shop: str, number: int) -> Delivery:
    """A signed orders/paid delivery shaped like Shopify's (as tests/gateway/webhooks builds it):
    its own order and webhook id, one of CUSTOMERS buyers."""
    order_id = 900_000_000 + number
    quantity, price = 1 + number % 3, Decimal(number % 17 + 1)
    buyer = number % CUSTOMERS
    now = datetime.now(UTC).isoformat()
    body = orjson.dumps(
        {
            "id": order_id,
            "email": f"buyer{buyer}@bench.example",
            "currency": "USD",
            "created_at": now,
            "cancelled_at": None,
            "financial_status": "paid",
            "source_name": "web",
            "customer": {
                "id": 70_000 + buyer,
                "email": f"buyer{buyer}@bench.example",
                "phone": None,
                "locale": "en",
            },
            "shipping_address": {"country_code": "US", "address1": "1 Main St"},
            "line_items": [
                {
                    "id": order_id * 10,
                    "quantity": quantity,
                    "price": f"{price}.00",
                    "discount_allocations": [],
                }
            ],
            "total_price": str(price * quantity),
        }
    )
    return Delivery(
        body=body,
        headers={
            "content-type": "application/json",
            "x-shopify-topic": "orders/paid",
            "x-shopify-shop-domain": shop,
            "x-shopify-webhook-id": str(uuid.uuid4()),
            "x-shopify-event-id": str(uuid.uuid4()),
            "x-shopify-triggered-at": now,
            "x-shopify-api-version": "2025-10",
            "x-shopify-hmac-sha256": webhook_signature(body, APP_SECRET),
        },
    )


@dataclass
class SendResult:
    accepted: int = 0
    rejected: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_error: str | None = None

    @property
    def per_second(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


async def _post(http: httpx.AsyncClient, delivery: Delivery, result: SendResult) -> None:
    started = time.perf_counter()
    try:
        response = await http.post(WEBHOOK_PATH, content=delivery.body, headers=delivery.headers)
    except httpx.HTTPError as error:
        result.rejected += 1
        result.first_error = result.first_error or repr(error)
        return
    if response.status_code == 200:
        result.accepted += 1
        result.latencies.append(time.perf_counter() - started)
    else:
        result.rejected += 1
        result.first_error = result.first_error or f"{response.status_code} {response.text}"


class Senders:
    """One single-connection client per concurrent sender: httpx's pool gets slower with
    every connection it holds, and on a small machine that CPU comes out of the shim's."""

    def __init__(self, base_url: str, count: int) -> None:
        self.clients = [
            httpx.AsyncClient(
                base_url=base_url,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                timeout=60,
            )
            for _ in range(count)
        ]
        self._idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for client in self.clients:
            self._idle.put_nowait(client)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    async def send_all(self, deliveries: list[Delivery]) -> SendResult:
        """As fast as the shim takes them: every sender waits for its 200, then sends again."""
        result = SendResult()
        pending = iter(deliveries)

        async def sender(http: httpx.AsyncClient) -> None:
            for delivery in pending:
                await _post(http, delivery, result)

        started = time.perf_counter()
        await asyncio.gather(*(sender(http) for http in self.clients))
        result.seconds = time.perf_counter() - started
        return result

    async def send_paced(self, deliveries: list[Delivery], rate: float) -> SendResult:
        """Open loop: delivery i leaves at i / rate seconds, as Shopify sends regardless of
        how fast we answer (or waits for a free sender, if all are busy)."""
        result = SendResult()

        async def send(delivery: Delivery) -> None:
            http = await self._idle.get()
            try:
                await _post(http, delivery, result)
            finally:
                self._idle.put_nowait(http)

        tasks = []
        started = time.perf_counter()
        for index, delivery in enumerate(deliveries):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(delivery)))
        await asyncio.gather(*tasks)
        result.seconds = time.perf_counter() - started
        return result


@asynccontextmanager
async def senders(base_url: str, count: int) -> AsyncIterator[Senders]:
    opened = Senders(base_url, count)
    try:
        yield opened
    finally:
        await opened.aclose()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def latency_line(seconds: list[float]) -> str:
    ms = [value * 1000 for value in seconds]
    if not ms:
        return "n/a"
    return (
        f"p50 {percentile(ms, 0.5):.1f}  p95 {percentile(ms, 0.95):.1f}  "
        f"p99 {percentile(ms, 0.99):.1f}  max {max(ms):.1f}  (mean {statistics.fmean(ms):.1f})"
    )


# --- the database, read from the side -------------------------------------------------------


@dataclass
class Probe:
    """One autocommit connection that watches the inbox and the server's transaction id."""

    connection: AsyncConnection

    async def statuses(self) -> dict[str, int]:
        rows = await self.connection.execute(
            text("SELECT status, count(*) FROM api_logs GROUP BY status")
        )
        return {str(status): int(count) for status, count in rows}

    async def sessions(self) -> int:
        """Connections opened to this database so far. Postgres counts one as soon as the new
        backend first goes idle, and the ones that closed again are counted too."""
        value = await self.connection.scalar(
            text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        )
        return int(value or 0)

    async def next_xid(self) -> int:
        # xmax of a snapshot is the next transaction id to be assigned: reading it assigns
        # none, and every transaction that writes takes exactly one (no savepoints here).
        value = await self.connection.scalar(
            text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        )
        return int(value)

    async def processed_since(self, since: datetime | None = None) -> ProcessedRows:
        """Rows created at or after ``since`` that are done: when, and how long each took."""
        query = "SELECT created_at, processed_at, duration_ms FROM api_logs WHERE status = 'done'"
        if since is not None:
            query += " AND created_at >= :since"
        rows = (await self.connection.execute(text(query), {"since": since})).all()
        return ProcessedRows(
            created=[row[0] for row in rows],
            processed=[row[1] for row in rows],
            durations=[(row[2] or 0) / 1000 for row in rows],
        )


@dataclass
class ProcessedRows:
    created: list[datetime]
    processed: list[datetime]
    durations: list[float]

    def per_second(self) -> float:
        """Orders per second between the first and the last transaction start in the worker."""
        if len(self.processed) < 2:
            return 0.0
        span = (max(self.processed) - min(self.processed)).total_seconds()
        return (len(self.processed) - 1) / span if span > 0 else 0.0

    def delays(self) -> list[float]:
        """From the shim's inbox transaction to the end of the worker's handler."""
        return [
            (processed - created).total_seconds() + duration
            for created, processed, duration in zip(
                self.created, self.processed, self.durations, strict=True
            )
        ]


@asynccontextmanager
async def probe(url: str) -> AsyncIterator[Probe]:
    engine = create_async_engine(to_async_url(url), isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        async with engine.connect() as connection:
            yield Probe(connection)
    finally:
        await engine.dispose()


async def wait_for_inbox(
    watch: Probe, total: int, services: list[Service], *, within: float
) -> dict[str, int]:
    """Poll every 100 ms until at least ``total`` rows are done or failed."""
    deadline = time.monotonic() + within
    while True:
        counts = await watch.statuses()
        if counts.get("done", 0) + counts.get("failed", 0) >= total:
            return counts
        for service in services:
            service.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"the inbox did not drain within {within:.0f} s: {counts}")
        await asyncio.sleep(0.1)


async def install_shop(url: str, shop: str) -> str:
    engine = create_engine(url, pool_size=1)
    try:
        async with system_unit_of_work(create_session_factory(engine)) as session:
            return (await install_merchant(session, shop)).id
    finally:
        await engine.dispose()


async def earned_orders(url: str, merchant_id: str) -> int:
    """Orders the ledger awarded points for, read as the tenant (row-level security on)."""
    engine = create_engine(url, pool_size=1)
    try:
        async with tenant_unit_of_work(create_session_factory(engine), merchant_id) as session:
            query = "SELECT count(DISTINCT order_id) FROM points_transactions WHERE kind = 'earn'"
            count = await session.scalar(text(query))
            return int(count or 0)
    finally:
        await engine.dispose()


async def count_statements(
    env: dict[str, str], shop: str, merchant_id: str, deliveries: list[Delivery]
) -> tuple[int, int]:
    """SQL statements sent for ``deliveries`` by the shim, then by the worker's code, both run
    in this process (the same functions the two processes run) so they can be counted."""
    settings = Settings.model_validate({name: env[name] for name in SETTINGS_FROM_ENV})
    sent = 0

    def count(*_args: Any) -> None:
        nonlocal sent
        sent += 1

    async with open_resources(settings, live=False) as resources:
        event.listen(resources.engine.sync_engine, "before_cursor_execute", count)
        transport = httpx.ASGITransport(app=create_edge_app(resources=resources))
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
            result = SendResult()
            for delivery in deliveries:
                await _post(http, delivery, result)
        if result.accepted != len(deliveries):
            raise RuntimeError(f"sample delivery rejected: {result.first_error}")
        at_shim = sent
        async with system_unit_of_work(resources.sessions) as session:
            pending = list(
                await session.scalars(
                    text("SELECT id FROM api_logs WHERE status = 'pending' ORDER BY created_at")
                )
            )
        sent = 0
        for delivery_id in pending:
            outcome = await process_delivery(resources, merchant_id, delivery_id)
            if outcome is not DeliveryOutcome.DONE:
                raise RuntimeError(f"sample delivery {delivery_id}: {outcome}")
        return at_shim, sent


# --- CPU, read from /proc (Linux) ----------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on: the command name may contain spaces."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def process_cpu_seconds(pid: int) -> float | None:
    """User + system time of a process, plus that of its children it has reaped."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float | None:
    """A process and its live children: Postgres backends are children of the postmaster,
    and the ones that exit are added to its reaped-children time."""
    total = process_cpu_seconds(pid)
    if total is None:
        return None
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and fields[1] == str(pid):
                total += sum(int(value) for value in fields[11:13]) / os.sysconf("SC_CLK_TCK")
    return total


async def postmaster_pid(watch: Probe) -> int | None:
    """The local postmaster, when the server runs on this machine and we may ask where."""
    try:
        directory = await watch.connection.scalar(text("SHOW data_directory"))
        first_line = (Path(str(directory)) / "postmaster.pid").read_text().split("\n", 1)[0]
        pid = int(first_line)
    except (OSError, ValueError, DBAPIError):
        return None
    return pid if _stat_fields(pid) is not None else None


@dataclass
class Cost:
    """What one phase cost: write transactions, and CPU seconds by process."""

    transactions: int = 0
    connections: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    def lines(self, per: int, unit: str) -> list[str]:
        if not per:
            return []
        lines = [
            f"    write transactions/{unit:<9}{self.transactions / per:6.2f}"
            f"   ({self.connections} Postgres connections opened)"
        ]
        if self.cpu:
            spent = ", ".join(f"{name} {cpu / per * 1000:.2f}" for name, cpu in self.cpu.items())
            total = sum(self.cpu.values())
            busy = total / (self.seconds * (os.cpu_count() or 1)) if self.seconds else 0.0
            lines.append(
                f"    CPU ms/{unit:<17}{total / per * 1000:6.2f}   ({spent}; CPUs {busy:.0%} busy)"
            )
        return lines


@dataclass
class Meter:
    watch: Probe
    # name -> (pid, whole tree); the client is this process.
    processes: dict[str, tuple[int, bool]] = field(default_factory=dict)

    def _cpu(self, names: list[str]) -> dict[str, float]:
        readings = {}
        for name in names:
            if name == "client":
                readings[name] = time.process_time()
            elif name in self.processes:
                pid, tree = self.processes[name]
                value = tree_cpu_seconds(pid) if tree else process_cpu_seconds(pid)
                if value is not None:
                    readings[name] = value
        return readings

    @asynccontextmanager
    async def measure(self, names: list[str]) -> AsyncIterator[Cost]:
        """``names``: the processes whose CPU time to report ("client" is this script)."""
        cost = Cost()
        sessions, xid = await self.watch.sessions(), await self.watch.next_xid()
        cpu = self._cpu(names)
        started = time.perf_counter()
        yield cost
        cost.seconds = time.perf_counter() - started
        cost.transactions = await self.watch.next_xid() - xid
        cost.connections = await self.watch.sessions() - sessions
        after = self._cpu(names)
        cost.cpu = {name: after[name] - cpu[name] for name in after if name in cpu}


# --- our processes --------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def check(self) -> None:
        code = self.process.poll()
        if code is not None:
            tail = self.log.read_text(errors="replace").splitlines()[-30:]
            raise RuntimeError(f"{self.name} exited with {code}:\n" + "\n".join(tail))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_service(name: str, args: list[str], env: dict[str, str], logs: Path) -> Service:
    log = logs / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C reaches only this script, which stops the services in
            # order (worker, edge, Redis, Postgres) instead of all at once.
            start_new_session=True,
        )
    return Service(name, process, log)


def service_env(database_url: str, redis: EmbeddedRedis, scratch: Path) -> dict[str, str]:
    """What `loyalnest serve edge` and `loyalnest worker` need, with defaults for the rest
    (pool sizes, arq's 10 concurrent jobs, INFO logs into a file)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis.url,
        "LOYALNEST_ENCRYPTION_KEYS": f"bench:{generate_key()}",
        "LOYALNEST_BLIND_INDEX_KEY": generate_key(),
        "SHOPIFY_API_SECRET": APP_SECRET,
        "SHOPIFY_API_KEY": "bench-api-key",
        "LOYALNEST_ENV": "development",
        "LOYALNEST_DATA_DIR": str(scratch),
        "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", str(scratch)),
    }


async def wait_for_health(http: httpx.AsyncClient, edge: Service, *, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        edge.check()
        with contextlib.suppress(httpx.TransportError):
            if (await http.get("/health")).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the edge app did not answer /health within {within:.0f} s")
        await asyncio.sleep(0.1)


@contextmanager
def scratch_directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="loyalnest-bench-webhooks-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- the run --------------------------------------------------------------------------------


@dataclass
class Report:
    version: str = ""
    shim: SendResult = field(default_factory=SendResult)
    shim_cost: Cost = field(default_factory=Cost)
    drained: ProcessedRows | None = None
    drain_wall_seconds: float = 0.0
    # Orders done while the worker ran, after it had done its first (start-up excluded).
    drain_metered: int = 0
    drain_cost: Cost = field(default_factory=Cost)
    failed: int = 0
    steady_rate: float = 0.0
    steady: SendResult | None = None
    steady_rows: ProcessedRows | None = None
    steady_cost: Cost = field(default_factory=Cost)
    # SQL statements per delivery at the shim and per order in the worker.
    statements: tuple[float, float] | None = None
    earned: int = 0
    total: int = 0
    tps: float = 0.0


async def run_services(
    app_url: str, scratch: Path, args: argparse.Namespace, report: Report
) -> None:
    shop = f"bench-{uuid.uuid4().hex[:8]}.myshopify.com"
    merchant_id = await install_shop(app_url, shop)
    redis = start_redis(scratch)
    env = service_env(app_url, redis, scratch)
    services: list[Service] = []
    port = free_port()
    try:
        edge = start_service("edge", ["serve", "edge", "--port", str(port)], env, scratch)
        services.append(edge)
        async with (
            senders(f"http://127.0.0.1:{port}", args.concurrency) as clients,
            probe(app_url) as watch,
        ):
            meter = Meter(watch)
            meter.processes["edge"] = (edge.process.pid, False)
            postmaster = await postmaster_pid(watch)
            if postmaster is not None:
                meter.processes["postgres"] = (postmaster, True)
            meter.processes["redis"] = (redis.process.pid, False)
            await wait_for_health(clients.clients[0], edge, within=60)
            # Warm-up, not measured: connections (ours and the shim's pool), caches.
            warm = [order_delivery(shop, -1 - n) for n in range(args.concurrency)]
            warmed = await clients.send_all(warm)
            if warmed.rejected:
                raise RuntimeError(f"warm-up delivery rejected: {warmed.first_error}")

            # (a) the shim alone.
            deliveries = [order_delivery(shop, n) for n in range(args.deliveries)]
            async with meter.measure(["client", "edge", "postgres", "redis"]) as report.shim_cost:
                report.shim = await clients.send_all(deliveries)
            counts = await watch.statuses()
            report.total = len(warm) + args.deliveries
            if counts != {"pending": report.total}:
                raise RuntimeError(f"expected {report.total} pending rows, found {counts}")

            # (b) a fresh worker drains the inbox.
            started = time.perf_counter()
            worker = start_service("worker", ["worker"], env, scratch)
            services.append(worker)
            meter.processes["worker"] = (worker.process.pid, False)
            counts = await wait_for_inbox(watch, 1, services, within=120)
            first_done = counts.get("done", 0) + counts.get("failed", 0)
            async with meter.measure(["worker", "postgres", "redis"]) as report.drain_cost:
                counts = await wait_for_inbox(watch, report.total, services, within=300)
            report.drain_wall_seconds = time.perf_counter() - started
            report.drain_metered = report.total - first_done
            report.failed = counts.get("failed", 0)
            report.drained = await watch.processed_since()

            # (c) steady load, below what (b) measured, with the worker running.
            if args.steady_seconds > 0 and report.drained.per_second() > 0:
                report.steady_rate = args.steady_load * report.drained.per_second()
                count = max(1, int(report.steady_rate * args.steady_seconds))
                steady = [order_delivery(shop, args.deliveries + n) for n in range(count)]
                since = await watch.connection.scalar(text("SELECT now()"))
                async with meter.measure(
                    ["client", "edge", "worker", "postgres", "redis"]
                ) as report.steady_cost:
                    report.steady = await clients.send_paced(steady, report.steady_rate)
                    report.total += count
                    counts = await wait_for_inbox(watch, report.total, services, within=300)
                report.failed = counts.get("failed", 0)
                report.steady_rows = await watch.processed_since(since)

            # (d) SQL statements, counted on a sample with the worker stopped.
            worker.stop()
            first = args.deliveries + 1_000_000
            sample = [order_delivery(shop, first + n) for n in range(STATEMENT_SAMPLE)]
            shim_sql, worker_sql = await count_statements(env, shop, merchant_id, sample)
            report.statements = (shim_sql / len(sample), worker_sql / len(sample))
            report.total += len(sample)
    finally:
        for service in reversed(services):
            service.stop()
        redis.stop()
    report.earned = await earned_orders(app_url, merchant_id)


async def main(server: Server, scratch: Path, args: argparse.Namespace) -> Report:
    # Our own warnings only: (d) runs the shim's and the worker's code in this process.
    configure_logging("WARNING")
    report = Report()
    suffix = uuid.uuid4().hex[:8]
    app_db, tpcb_db = f"bench_webhooks_{suffix}", f"bench_pgbench_{suffix}"
    try:
        app_url = await create_database(server, app_db)
        tpcb_url = await create_database(server, tpcb_db)
        await asyncio.to_thread(upgrade, app_url)
        report.version = await server_version(app_url)
        await run_services(app_url, scratch, args, report)
        # After the services have stopped: they would idle, but not share the CPU for free.
        report.tps = await asyncio.to_thread(
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
    return report


def print_report(server: Server, args: argparse.Namespace, report: Report) -> None:
    tps = report.tps

    def ratio(rate: float) -> str:
        return f"{rate / tps:.3f}" if tps else "n/a"

    def show(lines: list[str]) -> None:
        for line in lines:
            print(line)

    shim, drained = report.shim, report.drained
    assert drained is not None
    print(f"LoyalNest webhooks benchmark — PostgreSQL {report.version}, {server.description}")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print()
    print(
        f"(a) shim alone (no worker): {args.deliveries} signed orders/paid deliveries, "
        f"concurrency {args.concurrency}, {shim.seconds:.1f} s"
    )
    print(
        f"    accepted deliveries/s {shim.per_second:9.1f}"
        f"   ({shim.accepted} accepted, {shim.rejected} rejected)"
    )
    print(f"    latency ms           {latency_line(shim.latencies)}")
    show(report.shim_cost.lines(shim.accepted, "delivery"))
    print()
    processed = len(drained.processed)
    print(
        f"(b) a fresh worker drains the inbox: {processed} done, {report.failed} failed, "
        f"{report.drain_wall_seconds:.1f} s from process start"
    )
    print(
        f"    processed orders/s   {drained.per_second():9.1f}"
        f"   (first to last processed; {processed / report.drain_wall_seconds:.1f}/s "
        "with the worker's start-up)"
    )
    print(f"    handler ms           {latency_line(drained.durations)}")
    show(report.drain_cost.lines(report.drain_metered, "order"))
    steady, rows = report.steady, report.steady_rows
    if steady is not None and rows is not None:
        print()
        print(
            f"(c) steady load, worker running: {report.steady_rate:.1f} deliveries/s offered "
            f"({args.steady_load:.0%} of (b)) for {steady.seconds:.1f} s"
        )
        print(
            f"    accepted deliveries/s {steady.per_second:9.1f}"
            f"   ({steady.accepted} accepted, {steady.rejected} rejected)"
        )
        print(f"    shim latency ms      {latency_line(steady.latencies)}")
        print(f"    inbox → processed ms {latency_line(rows.delays())}")
        show(report.steady_cost.lines(steady.accepted, "order"))
    if report.statements is not None:
        print()
        print(f"(d) SQL statements, counted in-process on {STATEMENT_SAMPLE} more deliveries")
        print(
            f"    per delivery at the shim {report.statements[0]:5.1f}"
            f"   per order in the worker {report.statements[1]:5.1f}"
        )
    print()
    print(f"ledger: {report.earned} orders earned points, of {report.total} deliveries sent")
    print()
    print(
        f"(e) pgbench TPC-B, scale 1: -c {args.pgbench_clients} -j {args.pgbench_threads} "
        f"-T {args.pgbench_seconds}"
    )
    print(f"    TPS                  {tps:9.1f}")
    print()
    print(f"ratio accepted deliveries/s ÷ TPC-B TPS = {ratio(shim.per_second)}")
    print(f"ratio processed orders/s    ÷ TPC-B TPS = {ratio(drained.per_second())}")
    for result in (shim, steady):
        if result is not None and result.first_error:
            print(f"first rejection: {result.first_error}", file=sys.stderr)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--deliveries", type=int, default=2000, help="deliveries in (a)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent senders in (a)")
    parser.add_argument(
        "--steady-seconds", type=float, default=8.0, help="length of (c); 0 skips it"
    )
    parser.add_argument(
        "--steady-load", type=float, default=0.7, help="(c)'s rate as a share of (b)'s"
    )
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--pgbench-clients", type=int, default=8)
    parser.add_argument("--pgbench-threads", type=int, default=2)
    return parser.parse_args()


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    # Unwinds through the finally blocks, which stop our processes and remove the temp dirs.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    arguments = parse_args()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        with postgres_server() as pg, scratch_directory() as scratch_dir:
            result = asyncio.run(main(pg, scratch_dir, arguments))
            print_report(pg, arguments, result)
    except KeyboardInterrupt:
        # The finally blocks have stopped our processes and removed the temp dirs.
        raise SystemExit("interrupted") from None
