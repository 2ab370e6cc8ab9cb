"""The read path's CPU per request: the points subgraph's ASGI app called in this process, so
what is measured is our code's cost, not the noise of a shared machine's scheduler.

    .venv/bin/python bench/read_cpu.py [--customers 5000] [--requests 1500] [--rounds 3]

wrk's req/s (bench/api.py) swings by 2x between runs on a 2-core machine that other work
shares; CPU time per request, measured in the process that serves it, moves by a few percent.
The query is api.py's, `customers(first: N, query: "points_balance:<=K") { nodes { id
pointsBalance } }` with K drawn per request, with its literals inline and as one document
with variables, at N = 3 and N = 100. Requests go straight to the app's ASGI interface,
--concurrency at a time (as a server under load has them in flight), after a warm-up; each
round measures every variant in turn, so that a burst of noise hits them alike, and the
report gives each variant's median over the rounds: ms of CPU per request, requests per
CPU-second, and the cost of each extra row of a 100-row page (issue 12 asks <= 15 µs).
Postgres's own CPU is not counted: it is the same for every variant.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import orjson
from harness import Bench, add_shop_arguments, run, scenario_parser, serve_generated_shop
from starlette.types import Message

APP_SECRET = "bench-app-secret-" + "x" * 32
LITERALS = (
    '{ customers(first: %(first)d, query: "points_balance:<=%(bound)d") '
    "{ nodes { id pointsBalance } } }"
)
WITH_VARIABLES = (
    "query($first: Int!, $q: String!) { customers(first: $first, query: $q) "
    "{ nodes { id pointsBalance } } }"
)
SIZES = (3, 100)


def _body(form: str, first: int, bound: int) -> bytes:
    if form == "literals":
        return orjson.dumps({"query": LITERALS % {"first": first, "bound": bound}})
    return orjson.dumps(
        {"query": WITH_VARIABLES, "variables": {"first": first, "q": f"points_balance:<={bound}"}}
    )


def _caller(app: Any, token: str) -> Callable[[bytes], Awaitable[dict[str, Any]]]:
    headers = [
        (b"host", b"points"),
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {token}".encode()),
    ]

    async def call(body: bytes) -> dict[str, Any]:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/graphql", "raw_path": b"/graphql",
            "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # the client never disconnects
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, receive, send)
        if status != 200:
            raise RuntimeError(f"the points app answered {status}: {b''.join(chunks)[:300]!r}")
        answer: dict[str, Any] = orjson.loads(b"".join(chunks))
        return answer

    return call


class _CollectorTime:
    """Time the garbage collector spends, by generation (a callback on each collection)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.collections = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds[info["generation"]] += time.process_time() - self._started
            self.collections[info["generation"]] += 1


class _Measured(NamedTuple):
    cpu: float  # seconds a request
    collector: tuple[float, float, float]  # of which the garbage collector's, by generation
    collections: tuple[float, float, float]  # a request, by generation


async def _measure(
    call: Callable[[bytes], Awaitable[dict[str, Any]]],
    bodies: Callable[[], bytes],
    requests: int,
    concurrency: int,
    collector: _CollectorTime,
) -> _Measured:
    """CPU per request over ``requests``, ``concurrency`` in flight."""
    remaining = requests

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call(bodies())

    seconds, collections = list(collector.seconds), list(collector.collections)
    started = time.process_time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    cpu = time.process_time() - started
    return _Measured(
        cpu / requests,
        tuple(  # type: ignore[arg-type]
            (now - before) / requests
            for now, before in zip(collector.seconds, seconds, strict=True)
        ),
        tuple(  # type: ignore[arg-type]
            (now - before) / requests
            for now, before in zip(collector.collections, collections, strict=True)
        ),
    )


async def scenario(bench: Bench, args: argparse.Namespace) -> None:
    shop = await serve_generated_shop(bench, args, app_secret=APP_SECRET)
    # Imported once the services' environment is set: the app reads its settings at start.
    from subgraphs.points.app import app

    call = _caller(app, shop.token)
    draw = random.Random(12).randint
    variants = [(form, first) for first in SIZES for form in ("literals", "variables")]
    measured: dict[tuple[str, int], list[_Measured]] = {variant: [] for variant in variants}
    collector = _CollectorTime()
    gc.callbacks.append(collector)
    async with app.router.lifespan_context(app):
        for form, first in variants:
            answer = await call(_body(form, first, 1_000_000))
            if "errors" in answer or len(answer["data"]["customers"]["nodes"]) != first:
                raise RuntimeError(f"unexpected answer: {str(answer)[:300]}")
        for _ in range(args.rounds):
            for form, first in variants:

                def bodies(form: str = form, first: int = first) -> bytes:
                    return _body(form, first, draw(0, 5000))

                await _measure(call, bodies, args.requests // 5, args.concurrency, collector)
                measured[(form, first)].append(
                    await _measure(call, bodies, args.requests, args.concurrency, collector)
                )
    gc.callbacks.remove(collector)

    median = {
        variant: statistics.median(value.cpu for value in values)
        for variant, values in measured.items()
    }
    lines = [
        f"(a) shop: {shop.made.customers} customers; {args.requests} requests a variant a "
        f"round, {args.concurrency} in flight, {args.rounds} rounds (median; all rounds in ms)"
    ]
    for (form, first), value in median.items():
        rounds = measured[(form, first)]
        per_generation = ", ".join(
            f"{statistics.median(round.collections[generation] for round in rounds):.3f} "
            f"in {statistics.median(round.collector[generation] for round in rounds) * 1e3:.3f}"
            " ms"
            for generation in range(3)
        )
        lines.append(
            f"    {first:3d} rows, {form:9s}  {value * 1e3:6.3f} ms CPU a request  "
            f"{1 / value:7.0f} req per CPU-second  "
            f"({' / '.join(f'{round.cpu * 1e3:.2f}' for round in rounds)}); "
            f"collections of generation 0, 1, 2 a request: {per_generation}"
        )
    report = bench.report
    report.add(lines)
    for form in ("literals", "variables"):
        per_row = (median[(form, 100)] - median[(form, 3)]) / 97
        report.goal(f"cost per extra row, {form}", per_row * 1e6, at_most=15, unit=" µs")
    report.ratio("points subgraph req per CPU-second (3 rows)", 1 / median[("literals", 3)])


def parser() -> argparse.ArgumentParser:
    options = scenario_parser(__doc__)
    add_shop_arguments(options, customers=5000, orders=25000)
    options.add_argument("--requests", type=int, default=1500, help="a variant a round")
    options.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    options.add_argument("--rounds", type=int, default=3, help="rounds of every variant")
    return options


if __name__ == "__main__":
    run("read_cpu", parser(), scenario, floor="(b)")
