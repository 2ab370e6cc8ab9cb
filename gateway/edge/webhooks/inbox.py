"""The shim's one write: deliveries into the durable inbox, many in one round trip. Their
commit wakes the worker (the inbox's trigger notifies it, migration 0030).

``loyalnest_store_webhook_deliveries`` (migration 0025) enters the tenant (role and merchant,
for its own transaction: row-level security applies) and stores deliveries once per webhook
id, as ``WebhookDeliveriesRepository.insert_delivery`` does in a tenant unit of work. Run on
its own in autocommit, it is one statement instead of BEGIN, ``set_config``, INSERT and
COMMIT through an ORM session, which were a third of the edge app's CPU (issue 12, py-spy).

Deliveries of one merchant that arrive together are stored together (as the worker batches
them, ``worker.webhooks.batches``): a request hands its delivery over and waits; a lane takes
every delivery waiting at that moment and stores them in one call, so they share one commit
(with fsync on, the WAL flush each delivery waited for alone was most of the shim's time:
at 32 senders its CPUs were two-thirds idle). A lone delivery goes at once. Each request
answers once its own delivery committed; if the batch fails, each of its deliveries is stored
again on its own (``loyalnest_store_webhook_delivery``), so one cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from subgraphs.admin.deliveries.repository import NewDelivery
from subgraphs.kit.resources import Resources

T = TypeVar("T")

# Batches of one merchant stored at once, each on a connection of its own.
LANES = 4
# A batch's deliveries wait for its one commit: bounded, so that none waits long.
MAX_BATCH = 100

_STORE_MANY = text(
    "SELECT loyalnest_store_webhook_deliveries(:merchant_id, :ids, :topics, :webhook_ids,"
    " :event_ids, :triggered_ats, :api_versions, :payloads_encrypted, :payload_bytes,"
    " :shopify_customer_ids)"
)
_STORE = text(
    "SELECT loyalnest_store_webhook_delivery(:merchant_id, :id, :topic, :webhook_id, :event_id,"
    " :triggered_at, :api_version, :payload_encrypted, :payload_bytes, :shopify_customer_id)"
)


class Inbox:
    """One per edge app (``inbox_of``): what every delivery would otherwise build again."""

    def __init__(self, resources: Resources) -> None:
        self._engine = resources.engine
        # The pool keeps ``db_pool_size`` connections and opens (then closes) one more for
        # every checkout beyond them: under a burst of deliveries that was a new Postgres
        # connection per delivery past the pool (286 per 1,500 at 32 senders, most of the
        # Postgres CPU of the shim). Waiting for a pooled connection costs less than that.
        self._connections = asyncio.Semaphore(resources.settings.db_pool_size)
        # Per merchant: the deliveries waiting for a lane (by id), and the lanes running.
        self._waiting: dict[str, dict[str, tuple[NewDelivery, asyncio.Future[bool]]]] = {}
        self._lanes: dict[str, set[asyncio.Task[None]]] = {}

    async def store(self, merchant_id: str, delivery: NewDelivery) -> bool:
        """True when stored; False when this webhook id was already received. Committed when
        it returns, in the merchant's next batch."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(merchant_id, {})[delivery.id] = (delivery, future)
        self._start_lane(merchant_id)
        return await asyncio.shield(future)

    def _start_lane(self, merchant_id: str) -> None:
        lanes = self._lanes.setdefault(merchant_id, set())
        if len(lanes) < LANES:
            lanes.add(asyncio.create_task(self._drain(merchant_id)))

    async def _drain(self, merchant_id: str) -> None:
        lane = asyncio.current_task()
        try:
            while waiting := self._waiting.get(merchant_id):
                async with self._connections:
                    # What waits once a connection is ours: the batch grows while we wait.
                    batch = dict(itertools.islice(waiting.items(), MAX_BATCH))
                    for delivery_id in batch:
                        del waiting[delivery_id]
                    if waiting:
                        self._start_lane(merchant_id)
                    await self._settle(merchant_id, list(batch.values()))
        finally:
            # Between the last look at the queue and here nothing ran (no await): a delivery
            # handed over from now on finds one lane fewer, and starts one if need be.
            self._lanes[merchant_id].discard(lane)
            if not self._waiting.get(merchant_id):
                self._waiting.pop(merchant_id, None)

    async def _settle(
        self, merchant_id: str, batch: list[tuple[NewDelivery, asyncio.Future[bool]]]
    ) -> None:
        deliveries = [delivery for delivery, _ in batch]
        try:
            stored = await self._store_many(merchant_id, deliveries)
        except Exception:  # each on its own: only a delivery that fails alone fails
            for delivery, future in batch:
                try:
                    future.set_result(await self._store_one(merchant_id, delivery))
                except Exception as exc:
                    future.set_exception(exc)
            return
        for delivery, future in batch:
            future.set_result(delivery.id in stored)

    async def _store_many(self, merchant_id: str, deliveries: list[NewDelivery]) -> set[str]:
        """The ids of those stored (the others' webhook ids had been received)."""
        if len(deliveries) == 1:
            alone = deliveries[0]
            return {alone.id} if await self._store_one(merchant_id, alone) else set()
        columns = [asdict(delivery) for delivery in deliveries]
        # The function's array parameters are the deliveries' fields, by name, in the plural.
        values = {"merchant_id": merchant_id} | {
            _PLURALS.get(name, f"{name}s"): [row[name] for row in columns] for name in columns[0]
        }

        async def store(connection: AsyncConnection) -> set[str]:
            return {row[0] for row in await connection.execute(_STORE_MANY, values)}

        return await self._autocommit(store)

    async def _store_one(self, merchant_id: str, delivery: NewDelivery) -> bool:
        # The function's parameters are the delivery's fields, by name.
        values = {"merchant_id": merchant_id, **asdict(delivery)}

        async def store(connection: AsyncConnection) -> bool:
            return await connection.scalar(_STORE, values) is not None

        return await self._autocommit(store)

    async def _autocommit(self, run: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``run`` on a pooled connection in autocommit. One found dead is replaced once (as
        ``db.session`` does): the statement failed before it ran, or it committed and its
        retry finds its own receipts."""
        for attempt in range(2):
            try:
                async with self._engine.connect() as connection:
                    return await run(
                        await connection.execution_options(isolation_level="AUTOCOMMIT")
                    )
            except DBAPIError as error:
                if attempt or not error.connection_invalidated:
                    raise
        raise AssertionError("unreachable")


# Fields whose plural is not the field name and an s.
_PLURALS = {"payload_encrypted": "payloads_encrypted", "payload_bytes": "payload_bytes"}


def inbox_of(request: Request) -> Inbox:
    """The edge app's inbox, made on its first delivery."""
    state = request.app.state
    inbox: Inbox | None = getattr(state, "webhook_inbox", None)
    if inbox is None:
        inbox = state.webhook_inbox = Inbox(state.resources)
    return inbox
