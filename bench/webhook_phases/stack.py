"""The stack under load: an embedded Redis, the edge app (`loyalnest serve edge`) and, from (b)
on, the worker (`loyalnest worker`), as real processes with their default settings, with the
senders, the inbox and the meter that the phases use on them."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
from harness import Bench, Meter, Processes, Service, autocommit_connection, free_port

# The project's code: these paths move with it.
from cli.stack import REPO_ROOT
from db.crypto import generate_key

from .deliveries import APP_SECRET, Delivery, Senders, order_delivery, senders
from .inbox import Inbox


@dataclass
class Stack:
    shop: str
    merchant_id: str
    # The services' environment.
    env: dict[str, str]
    processes: Processes
    senders: Senders
    inbox: Inbox
    meter: Meter
    # Deliveries made so far: each has its own number, so its own order.
    total: int = 0

    def deliveries(self, count: int) -> list[Delivery]:
        made = [order_delivery(self.shop, self.total + n) for n in range(count)]
        self.total += count
        return made

    def start(self, name: str, *command: str) -> Service:
        """`loyalnest <command>` as a process of the run, metered as ``name``."""
        argv = [sys.executable, "-m", "cli.main", *command]
        service = self.processes.start(name, argv, env=self.env, cwd=REPO_ROOT)
        self.meter.watch(name, service.pid)
        return service


def _service_env(database_url: str, redis_url: str, scratch: Path) -> dict[str, str]:
    """What `loyalnest serve edge` and `loyalnest worker` need, with defaults for the rest
    (pool sizes, arq's 10 concurrent jobs, INFO logs into a file)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOYALNEST_ENCRYPTION_KEYS": f"bench:{generate_key()}",
        "LOYALNEST_BLIND_INDEX_KEY": generate_key(),
        "SHOPIFY_API_SECRET": APP_SECRET,
        "SHOPIFY_API_KEY": "bench-api-key",
        "LOYALNEST_ENV": "development",
        "LOYALNEST_DATA_DIR": str(scratch),
        "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", str(scratch)),
        # The bench floods one shop on purpose: its per-shop webhook limit would answer 429.
        "LOYALNEST_RATE_LIMITS_ENABLED": "false",
    }


@asynccontextmanager
async def running_stack(
    bench: Bench, shop: str, merchant_id: str, concurrency: int
) -> AsyncIterator[Stack]:
    """Redis and the edge app up, answering, and warmed up by one delivery per sender."""
    redis = bench.processes.start_redis()
    env = _service_env(bench.url, redis.url, bench.scratch)
    port = free_port()
    async with (
        senders(f"http://127.0.0.1:{port}", concurrency) as clients,
        autocommit_connection(bench.url) as connection,
    ):
        meter = Meter(connection)
        meter.watch("redis", redis.process.pid)
        await meter.watch_postmaster()
        stack = Stack(shop, merchant_id, env, bench.processes, clients, Inbox(connection), meter)
        stack.start("edge", "serve", "edge", "--port", str(port))

        async def healthy() -> bool:
            with suppress(httpx.TransportError):
                return (await clients.clients[0].get("/health")).status_code == 200
            return False

        await bench.processes.wait(healthy, within=60, what="the edge app did not answer /health")
        # Warm-up, not measured: connections (ours and the shim's pool), caches.
        warmed = await clients.send_all(stack.deliveries(concurrency))
        if warmed.rejected:
            raise RuntimeError(f"warm-up delivery rejected: {warmed.first_error}")
        yield stack
