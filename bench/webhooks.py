"""Webhook throughput: deliveries accepted per second at the shim and orders processed per
second end to end, against pgbench TPC-B on the same Postgres in the same run.

    .venv/bin/python bench/webhooks.py [--deliveries 2000] [--concurrency 32]

The edge app (`loyalnest serve edge`) and the worker (`loyalnest worker`) run as real
processes, with their default settings, over an embedded Postgres (pgserver, in a temporary
directory) and an embedded Redis; all of it is removed afterwards. With DATABASE_URL it creates
two scratch databases on that server instead (the role needs CREATEDB) and drops them. Redis is
always embedded: a worker already listening on a shared Redis would take our jobs.

(a) the shim alone: --deliveries signed orders/paid webhooks replayed by wrk over
    --concurrency connections, no worker running; every delivery must be accepted and land
    in the inbox (the rate: first to last stored).
(b) fresh worker processes (--workers, 1) drain that inbox.
(c) steady load: with the worker running, deliveries arrive at a share of the rate measured
    in (b) for --steady-seconds; the delay from the inbox commit to the processed order is
    read back from the rows.
(d) SQL statements per delivery and per order, counted in this process on a small sample
    (the shim's app over an in-process transport, then the worker's process_delivery).
(e) pgbench TPC-B on a scratch database of the same server.

Each phase also reports write transactions per delivery (from Postgres' transaction ids), the
Postgres connections opened, and CPU time per delivery by process (from /proc; Linux only).
Absolute numbers depend on the machine; the ratios to TPC-B TPS are what to compare.
The phases are in bench/webhook_phases/, a module each.
"""

from __future__ import annotations

import argparse
import uuid

from harness import Bench, run, scenario_parser
from sqlalchemy import text
from webhook_phases import drain, shim, statements, steady
from webhook_phases.deliveries import CUSTOMERS
from webhook_phases.stack import running_stack

# The project's code: these paths move with it.
from db.session import (
    create_engine,
    create_session_factory,
    system_unit_of_work,
    tenant_unit_of_work,
)
from subgraphs.admin.merchants.service import install_merchant
from subgraphs.kit.observability import configure_logging


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
            return int(await session.scalar(text(query)) or 0)
    finally:
        await engine.dispose()


async def scenario(bench: Bench, args: argparse.Namespace) -> None:
    # Our own warnings only: (d) runs the shim's and the worker's code in this process.
    configure_logging("WARNING")
    report = bench.report
    shop = f"bench-{uuid.uuid4().hex[:8]}.myshopify.com"
    merchant_id = await install_shop(bench.url, shop)
    async with running_stack(bench, shop, merchant_id, args.concurrency) as stack:
        stack.workers = args.workers
        stack.buyers = args.buyers
        accepted = await shim.run(stack, args.deliveries)
        report.add(accepted.section())
        drained = await drain.run(stack)
        report.add(drained.section())
        sends = [accepted.sent]
        if args.steady_seconds > 0 and drained.rows.per_second() > 0:
            loaded = await steady.run(
                stack,
                drained_per_second=drained.rows.per_second(),
                load=args.steady_load,
                seconds=args.steady_seconds,
            )
            report.add(loaded.section())
            sends.append(loaded.sent)
        stack.stop_workers()
        report.add((await statements.run(stack)).section())
    earned = await earned_orders(bench.url, merchant_id)
    report.add([f"ledger: {earned} orders earned points, of {stack.total} deliveries sent"])
    report.ratio("accepted deliveries/s", accepted.sent.per_second)
    report.goal("accepted deliveries/s", accepted.sent.per_second, at_least=1000)
    report.ratio("processed orders/s", drained.rows.per_second(), at_least=0.5)
    report.notes += [f"first rejection: {sent.first_error}" for sent in sends if sent.first_error]


def parser() -> argparse.ArgumentParser:
    options = scenario_parser(__doc__)
    options.add_argument("--deliveries", type=int, default=2000, help="deliveries in (a)")
    options.add_argument("--concurrency", type=int, default=32, help="connections in (a)")
    options.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes from (b) on (2 on 2 cores was slower: bench/README.md)",
    )
    options.add_argument(
        "--buyers",
        type=int,
        default=CUSTOMERS,
        help="buyers the orders cycle through (few buyers: their rows are locked and updated "
        "by every batch)",
    )
    options.add_argument(
        "--steady-seconds", type=float, default=8.0, help="length of (c); 0 skips it"
    )
    options.add_argument(
        "--steady-load", type=float, default=0.7, help="(c)'s rate as a share of (b)'s"
    )
    return options


if __name__ == "__main__":
    run("webhooks", parser(), scenario, floor="(e)")
