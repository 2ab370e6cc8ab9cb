"""The read path: the points subgraph and the router against the least a server can do for the
same query (the floor), in the same run, on a generated shop.

    .venv/bin/python bench/api.py [--customers 50000 --orders 250000] [--seconds 8]

One authenticated query, `customers(first: N, query: "points_balance:<=K")
{ nodes { id pointsBalance } }`, its bound K drawn per request (no cache or deduplication can
answer it), sent by wrk over --connections keep-alive connections:

(a) the shop: `loyalnest seed --customers --orders`'s generator (cli/generated_shop.py).
(b) the floor (bench/api_phases/floor_app.py): Starlette + asyncpg doing the same work —
    verify the session token, one tenant transaction with set_config, the same SELECT, orjson.
(c) the points subgraph (`loyalnest serve points`), reached directly: the query with its
    literals inline (a new document each request), and as one document with variables.
(d) the router (Hive Gateway) over the four subgraphs, with literals inline and with variables.
(d') with --compare-grafbase, also Grafbase's gateway (`grafbase dev`, a Rust binary fetched
    into ~/.cache/loyalnest) over the same subgraphs: a compiled router's share, for
    comparison only (bench/api_phases/grafbase.py says how it differs from ours).
Each at N = 3 and N = 100; then pgbench TPC-B (e) on the same server. The goals of issue 12
are printed next to what was measured: subgraph ÷ floor >= 0.4 (N = 3), router ÷ subgraph
>= 0.8 (N = 3), and the cost of each extra row of a 100-row page at the subgraph <= 15 µs.
"""

from __future__ import annotations

import argparse
import asyncio

import httpx
from api_phases.federation import start_federation, start_python
from api_phases.grafbase import GRAFBASE_VERSION, start_grafbase
from api_phases.load import Load, run_wrk
from harness import Bench, add_shop_arguments, free_port, run, scenario_parser, serve_generated_shop
from harness.wrk import wrk_path

# The project's code: these paths move with it.
from cli.stack import REPO_ROOT

APP_SECRET = "bench-app-secret-" + "x" * 32
GRAPHQL_BODY = (
    '{"query": "{ customers(first: %(first)d, query: \\"points_balance:<=%%d\\") '
    '{ nodes { id pointsBalance } } }"}'
)
# The same query as one document with variables, as clients with persisted or prepared
# operations send it, and as Grafbase sends it on (it lifts every literal into a variable):
# the document repeats, so parse and validation caches can answer (the router gains ~40 % from
# it; the subgraph, whose validation is already cached by shape, within noise).
VARIABLES_BODY = (
    '{"query": "query($first: Int!, $q: String!) { customers(first: $first, query: $q) '
    '{ nodes { id pointsBalance } } }", '
    '"variables": {"first": %(first)d, "q": "points_balance:<=%%d"}}'
)
FLOOR_BODY = '{"first": %(first)d, "k": %%d}'
SIZES = (3, 100)


async def _check(url: str, body: str, token: str, first: int) -> None:
    """One request by hand: the page must hold ``first`` rows and no error (wrk only sees
    status codes)."""
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            url,
            content=body.replace("%d", "1000000"),
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        )
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:500]}")
    answer = response.json()
    if "errors" in answer or len(answer["data"]["customers"]["nodes"]) != first:
        raise RuntimeError(f"{url} answered {str(answer)[:500]}")


async def scenario(bench: Bench, args: argparse.Namespace) -> None:
    wrk_path()
    report = bench.report
    shop = await serve_generated_shop(bench, args, app_secret=APP_SECRET)
    made, env, token = shop.made, shop.env, shop.token
    report.add(
        [
            f"(a) shop: {made.customers} customers, {made.orders} orders, "
            f"{made.transactions} ledger rows (cli/generated_shop.py)"
        ]
    )

    floor_port = free_port()
    start_python(
        bench.processes,
        "floor",
        [
            "-m", "uvicorn", "api_phases.floor_app:app", "--app-dir", str(REPO_ROOT / "bench"),
            "--port", str(floor_port), "--loop", "uvloop", "--http", "httptools",
            "--log-level", "warning", "--no-access-log",
        ],
        env,
    )  # fmt: skip
    federation = await start_federation(bench.processes, env)
    targets = {
        "floor": (f"http://127.0.0.1:{floor_port}/graphql", FLOOR_BODY),
        "points subgraph": (federation.subgraph_urls["points"], GRAPHQL_BODY),
        "points subgraph, variables": (federation.subgraph_urls["points"], VARIABLES_BODY),
        "router": (federation.router_url, GRAPHQL_BODY),
        "router, variables": (federation.router_url, VARIABLES_BODY),
    }
    if args.compare_grafbase:
        grafbase_url = await start_grafbase(bench.processes, federation, bench.scratch)
        targets["grafbase"] = (grafbase_url, GRAPHQL_BODY)
    loads: dict[tuple[str, int], Load] = {}
    lines = [
        f"(b)-(d) wrk, {args.connections} connections, {args.seconds:.0f} s each "
        f"(after {args.warmup:.0f} s of warm-up)"
    ]
    for first in SIZES:
        for name, (url, template) in targets.items():
            body = template % {"first": first}
            # The floor has no health route: its first answer is its readiness.
            for attempt in range(50):
                try:
                    await _check(url, body, token, first)
                    break
                except httpx.TransportError:
                    if attempt == 49:
                        raise
                    await asyncio.sleep(0.2)
            common = {
                "body": body,
                "token": token,
                "max_bound": 5000,
                "scratch": bench.scratch,
                "connections": args.connections,
            }
            await run_wrk(f"warm-up {name}", url, seconds=args.warmup, **common)
            load = await run_wrk(f"{name}, {first} rows", url, seconds=args.seconds, **common)
            loads[(name, first)] = load
            lines.append(load.line())
            bench.processes.check()
    report.add(lines)

    def rate(name: str, first: int) -> float:
        return loads[(name, first)].requests_per_second

    report.goal(
        "points subgraph ÷ floor, 3 rows", rate("points subgraph", 3) / rate("floor", 3),
        at_least=0.4,
    )  # fmt: skip
    report.goal(
        "router ÷ points subgraph, 3 rows", rate("router", 3) / rate("points subgraph", 3),
        at_least=0.8,
    )  # fmt: skip
    per_row = (1 / rate("points subgraph", 100) - 1 / rate("points subgraph", 3)) / 97
    report.goal("subgraph cost per extra row", per_row * 1e6, at_most=15, unit=" µs")
    report.add(
        [
            "    the same query with variables (one repeating document): subgraph ÷ floor "
            f"{rate('points subgraph, variables', 3) / rate('floor', 3):.3f}, router ÷ "
            f"subgraph {rate('router, variables', 3) / rate('points subgraph, variables', 3):.3f}"
            " (3 rows)"
        ]
    )
    report.ratio("points subgraph req/s (3 rows)", rate("points subgraph", 3))
    report.ratio("router req/s (3 rows)", rate("router", 3))
    if args.compare_grafbase:
        # For comparison only: Grafbase runs none of our router's plugins.
        report.add(
            [f"(d') a compiled router: Grafbase {GRAFBASE_VERSION} (`grafbase dev`, no plugins)"]
            + [
                f"    {first:3d} rows: grafbase ÷ points subgraph with variables "
                f"{rate('grafbase', first) / rate('points subgraph, variables', first):.2f}, "
                f"router ÷ grafbase {rate('router', first) / rate('grafbase', first):.2f}"
                for first in SIZES
            ]
        )


def parser() -> argparse.ArgumentParser:
    options = scenario_parser(__doc__)
    add_shop_arguments(options, customers=5000, orders=25000)
    options.add_argument("--seconds", type=float, default=8.0, help="each measurement")
    options.add_argument("--warmup", type=float, default=2.0, help="before each measurement")
    options.add_argument("--connections", type=int, default=16, help="wrk connections")
    options.add_argument(
        "--compare-grafbase",
        action="store_true",
        help="also measure Grafbase's gateway over the same subgraphs (fetched with npm once)",
    )
    return options


if __name__ == "__main__":
    run("api", parser(), scenario, floor="(e)")
