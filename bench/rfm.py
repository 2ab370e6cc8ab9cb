"""RFM full recompute: one shop's scores and segments in one set-based pass, timed on a
generated shop (`loyalnest seed`'s generator), against pgbench TPC-B on the same Postgres in
the same run.

    .venv/bin/python bench/rfm.py [--customers 50000] [--orders 250000] [--passes 3]

Without DATABASE_URL it starts an embedded Postgres (and Redis, which the generator's
resources open) in a temporary directory and removes it afterwards. The generated shop takes
a few minutes at 50,000 customers; only the recompute is measured. The first pass writes
every customer's scores (and a history row each); later passes a day later write only the
customers whose scores moved, as the nightly job does. Reported: seconds per pass, customers
scored per second, SQL statements per pass (the same for any shop size), and as ratios to
TPC-B TPS the customers scored per second of the full pass (every score written) and of the
best later pass (the nightly job's usual work).
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime, timedelta

from harness import Bench, add_shop_arguments, count_statements, run, scenario_parser, service_env

# The project's code: these paths move with it.
from cli.generated_shop import ShopShape, generate_shop
from db.session import create_engine, create_session_factory, tenant_unit_of_work
from subgraphs.analytics.rfm import service as rfm
from subgraphs.kit.settings import Settings

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


async def scenario(bench: Bench, args: argparse.Namespace) -> None:
    redis = bench.processes.start_redis()
    env = service_env(bench.url, redis.url, bench.scratch, app_secret=uuid.uuid4().hex)
    settings = Settings(
        DATABASE_URL=bench.url,
        REDIS_URL=redis.url,
        LOYALNEST_ENCRYPTION_KEYS=env["LOYALNEST_ENCRYPTION_KEYS"],
        LOYALNEST_BLIND_INDEX_KEY=env["LOYALNEST_BLIND_INDEX_KEY"],
        LOYALNEST_DATA_DIR=bench.scratch,
    )
    shape = ShopShape(customers=args.customers, orders=args.orders, seed=1, as_of=AS_OF)
    started = time.perf_counter()
    shop = await generate_shop(settings, f"rfm-{uuid.uuid4().hex[:8]}.myshopify.com", shape)
    generated_in = time.perf_counter() - started

    engine = create_engine(bench.url, pool_size=1)
    sessions = create_session_factory(engine)
    lines = [
        f"(a) RFM full recompute of one shop: {shop.customers} customers, {shop.orders} orders "
        f"(generated in {generated_in:.0f} s)",
    ]
    passes: list[float] = []
    try:
        for number in range(args.passes):
            now = AS_OF + timedelta(days=number)
            with count_statements(engine) as statements:
                started = time.perf_counter()
                async with tenant_unit_of_work(sessions, shop.merchant_id) as session:
                    result = await rfm.recompute(session, shop.merchant_id, now=now)
                seconds = time.perf_counter() - started
            passes.append(seconds)
            lines.append(
                f"    pass {number + 1} (as of +{number} d)  {seconds:8.2f} s"
                f"   {result.scored / seconds:9.0f} customers scored/s"
                f"   scored {result.scored}, changed {result.changed},"
                f" SQL statements {statements.count}"
            )
        started = time.perf_counter()
        await rfm.refresh_counts(sessions)
        lines.append(f"    segment counts refresh     {time.perf_counter() - started:8.2f} s")
    finally:
        await engine.dispose()
    bench.report.add(lines)
    scored = result.scored
    bench.report.ratio("customers scored/s (full pass)", scored / passes[0])
    if len(passes) > 1:
        bench.report.ratio("customers scored/s (best later pass)", scored / min(passes[1:]))


def parser() -> argparse.ArgumentParser:
    options = scenario_parser(__doc__)
    add_shop_arguments(options, customers=50_000, orders=250_000)
    options.add_argument("--passes", type=int, default=3, help="recomputes measured")
    return options


if __name__ == "__main__":
    run("rfm", parser(), scenario, floor="(b)")
