"""The shim's one write: a delivery into the durable inbox, in one round trip, and its nudge.

``loyalnest_store_webhook_delivery`` (migration 0013) enters the tenant (role and merchant,
for its own transaction: row-level security applies) and stores the delivery once per webhook
id, as ``WebhookDeliveriesRepository.insert_delivery`` does in a tenant unit of work. Run on
its own in autocommit, it is one statement instead of BEGIN, ``set_config``, INSERT and
COMMIT through an ORM session, which were a third of the edge app's CPU (issue 12, py-spy).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from arq.connections import ArqRedis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request

from subgraphs.admin.deliveries.repository import NewDelivery
from subgraphs.kit.jobs import delivery_job_id, enqueue_webhook_delivery, job_queue
from subgraphs.kit.resources import Resources

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
        self._queue: ArqRedis = job_queue(resources.redis)

    async def store(self, merchant_id: str, delivery: NewDelivery) -> bool:
        """True when stored; False when this webhook id was already received. Committed when
        it returns. A pooled connection found dead is replaced once (as ``db.session`` does):
        the statement failed before it ran, or it committed and then finds its own receipt."""
        # The function's parameters are the delivery's fields, by name.
        values = {"merchant_id": merchant_id, **asdict(delivery)}
        async with self._connections:
            for attempt in range(2):
                try:
                    async with self._engine.connect() as connection:
                        autocommit = await connection.execution_options(
                            isolation_level="AUTOCOMMIT"
                        )
                        return await autocommit.scalar(_STORE, values) is not None
                except DBAPIError as error:
                    if attempt or not error.connection_invalidated:
                        raise
        raise AssertionError("unreachable")

    async def nudge(self, merchant_id: str, delivery_id: str) -> None:
        """Ask the worker to process the delivery (after the response; the sweeper finds it if
        Redis is away)."""
        await enqueue_webhook_delivery(
            self._queue, merchant_id, delivery_id, job_id=delivery_job_id(delivery_id)
        )


def inbox_of(request: Request) -> Inbox:
    """The edge app's inbox, made on its first delivery."""
    state = request.app.state
    inbox: Inbox | None = getattr(state, "webhook_inbox", None)
    if inbox is None:
        inbox = state.webhook_inbox = Inbox(state.resources)
    return inbox
