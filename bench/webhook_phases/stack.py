"""The stack under load: an embedded Redis, the edge app (`loyalnest serve edge`) and, from (b)
on, the worker (`loyalnest worker`), as real processes with their default settings, with the
senders, the inbox and the meter that the phases use on them."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
from harness import (
    Bench,
    Meter,
    Processes,
    Service,
    autocommit_connection,
    free_port,
    service_env,
)

# The project's code: these paths move with it.
from cli.stack import REPO_ROOT

from .deliveries import APP_SECRET, CUSTOMERS, Delivery, Senders, order_delivery, senders
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
    base_url: str
    scratch: Path
    # Deliveries made so far: each has its own number, so its own order.
    total: int = 0

    # Worker processes (b) starts: "worker", then "worker2", ...
    workers: int = 1
    # The buyers the deliveries cycle through (each delivery is one of them).
    buyers: int = CUSTOMERS

    @property
    def worker_names(self) -> list[str]:
        return ["worker", *(f"worker{n}" for n in range(2, self.workers + 1))]

    def start_workers(self) -> None:
        for name in self.worker_names:
            self.start(name, "worker")

    def stop_workers(self) -> None:
        for name in self.worker_names:
            self.processes.stop(name)

    def deliveries(self, count: int) -> list[Delivery]:
        made = [order_delivery(self.shop, self.total + n, self.buyers) for n in range(count)]
        self.total += count
        return made

    def start(self, name: str, *command: str) -> Service:
        """`loyalnest <command>` as a process of the run, metered as ``name``."""
        argv = [sys.executable, "-m", "cli.main", *command]
        service = self.processes.start(name, argv, env=self.env, cwd=REPO_ROOT)
        self.meter.watch(name, service.pid)
        return service


@asynccontextmanager
async def running_stack(
    bench: Bench, shop: str, merchant_id: str, concurrency: int
) -> AsyncIterator[Stack]:
    """Redis and the edge app up, answering, and warmed up by one delivery per sender."""
    redis = bench.processes.start_redis()
    env = service_env(bench.url, redis.url, bench.scratch, app_secret=APP_SECRET)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    async with (
        senders(base_url, concurrency) as clients,
        autocommit_connection(bench.url) as connection,
    ):
        meter = Meter(connection)
        meter.watch("redis", redis.process.pid)
        await meter.watch_postmaster()
        stack = Stack(
            shop,
            merchant_id,
            env,
            bench.processes,
            clients,
            Inbox(connection),
            meter,
            base_url,
            bench.scratch,
        )
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
