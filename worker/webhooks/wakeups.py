"""Postgres wakes the worker when deliveries arrive: the inbox's trigger (migration 0030)
notifies ``db.channels.WEBHOOK_INBOX`` with the merchant's id as the row commits, and the
listener here hands the merchant to the batches (``DeliveryBatches.wake``), which drain its
due deliveries.

A notification is only a doorbell: one sent while nobody listened (the worker starting, its
connection lost) is gone, so every time the listener (re)connects it wakes each merchant with
due deliveries, and the sweeper (``jobs.sweep_webhook_inbox``) does so on its schedule for
what a killed worker's batch left behind. Several workers may listen: each hears every
notification, and their batches share the rows (``FOR UPDATE SKIP LOCKED``).

A connection of its own, outside the pool: it is held for the worker's whole life, so the
worker's ``DATABASE_URL`` must reach Postgres itself or a pooler in session mode (a
transaction-pooling PgBouncer drops LISTEN): without notifications every delivery would wait
for the sweeper (``LOYALNEST_INBOX_SWEEP_EVERY_SECONDS`` plus the grace).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import structlog

from db.channels import WEBHOOK_INBOX
from db.session import system_unit_of_work
from subgraphs.admin.deliveries.repository import merchants_with_due_deliveries
from subgraphs.kit.observability import WORKER_INBOX_LISTENING
from subgraphs.kit.resources import Resources
from worker.webhooks.batches import batches_of

log = structlog.get_logger(__name__)

# An idle connection whose peer vanished (a failover, a cut) says nothing: a ping this often
# finds it, and a listener reconnected sweeps what it missed meanwhile.
PING_EVERY_SECONDS = 10.0
PING_TIMEOUT_SECONDS = 5.0
RECONNECT_DELAYS_SECONDS = (0.5, 1.0, 2.0, 5.0)
APPLICATION_NAME = "loyalnest-inbox-listener"


class InboxListener:
    def __init__(self, resources: Resources, wake: Callable[[str], None]) -> None:
        self._resources = resources
        self._wake = wake
        # Set while listening (after the catch-up wake): tests and start-up wait for it.
        self.listening = asyncio.Event()
        # Whether the current connection got as far as listening (run's back-off).
        self._listened = False

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after a lost connection."""
        failures = 0
        while True:
            self._listened = False
            try:
                await self._listen()
            except Exception as exc:  # anything (Postgres away, a failover): listen again
                # Quickly after a connection that worked, then backing off while none does.
                failures = 0 if self._listened else failures + 1
                delay = RECONNECT_DELAYS_SECONDS[min(failures, len(RECONNECT_DELAYS_SECONDS) - 1)]
                log.warning("inbox_listener_lost", error=str(exc), retry_in_seconds=delay)
                await asyncio.sleep(delay)

    async def _listen(self) -> None:
        """Listen on one connection until it is lost (then raise)."""
        engine = self._resources.engine
        # The engine's own connect arguments (host, socket, credentials, TLS), for asyncpg;
        # named, so that an operator finds it in pg_stat_activity.
        _, arguments = engine.dialect.create_connect_args(engine.url)
        settings = {**arguments.pop("server_settings", {}), "application_name": APPLICATION_NAME}
        connection: asyncpg.Connection = await asyncpg.connect(
            **arguments, server_settings=settings
        )
        closed = asyncio.Event()
        # Postgres closing the connection (a restart, pg_terminate_backend) is noticed at
        # once; a peer that vanished without a word, by the ping.
        connection.add_termination_listener(lambda _connection: closed.set())
        try:
            await connection.add_listener(WEBHOOK_INBOX, self._notified)
            # What was committed while nobody listened: listening first, so nothing falls
            # between the two.
            await wake_due_merchants(self._resources, self._wake)
            self.listening.set()
            WORKER_INBOX_LISTENING.set(1)
            self._listened = True
            log.info("inbox_listener_ready")
            while True:
                with suppress(TimeoutError):
                    await asyncio.wait_for(closed.wait(), PING_EVERY_SECONDS)
                if closed.is_set():
                    raise ConnectionResetError("Postgres closed the listening connection")
                await asyncio.wait_for(connection.fetchval("SELECT 1"), PING_TIMEOUT_SECONDS)
        finally:
            self.listening.clear()
            WORKER_INBOX_LISTENING.set(0)
            connection.terminate()

    def _notified(self, _connection: Any, _pid: int, _channel: str, merchant_id: str) -> None:
        self._wake(merchant_id)


async def wake_due_merchants(
    resources: Resources, wake: Callable[[str], None], *, older_than_seconds: float = 0.0
) -> int:
    """Wake every merchant with deliveries due (for more than ``older_than_seconds``); how
    many there were."""
    async with system_unit_of_work(resources.sessions) as session:
        merchants = await merchants_with_due_deliveries(
            session, older_than_seconds=older_than_seconds
        )
    for merchant_id in merchants:
        wake(merchant_id)
    return len(merchants)


@asynccontextmanager
async def listening_for_deliveries(resources: Resources) -> AsyncIterator[InboxListener]:
    """The worker's listener, running for the block, feeding the worker's batches."""
    listener = InboxListener(resources, batches_of(resources).wake)
    task = asyncio.create_task(listener.run())
    try:
        yield listener
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
