"""Deliveries of one merchant that arrive together go together: one transaction per batch.

Work comes two ways. Postgres says a merchant's inbox has new deliveries (``wake``, from the
listener in ``worker.webhooks.wakeups``, or from the sweeper): a drain of the merchant takes
its oldest due deliveries, up to ``MAX_BATCH`` a batch, until a batch finds fewer than it had
room for. And an arq job names one delivery (a retry's, or one an admin asked for again):
it hands it over here and waits for its outcome (``process``). A wake or a job that comes
while a drain runs makes it go round once more, so nothing committed is left waiting; a
lone delivery goes at once (a batch of one, no waiting).

Until issue 12's last step every delivery had its own arq job: arq's Redis bookkeeping per
job was ~15 % of the worker's CPU and its start-up a few round trips per delivery, so the
batches held what had started (about 12). A wake per merchant costs nothing per delivery.
A job for a delivery a batch already finished ends at once, without a claim: the worker
remembers what its batches finished (``_FINISHED_MEMORY``).
Up to ``LANES`` drains per merchant run at once, and up to ``LANES`` batches in all (each
holds a connection while it runs, and the worker's other jobs need theirs); every batch takes
its customers' row locks in one order (``process_deliveries``), so concurrent batches (in
this worker or another) wait for each other at worst, and ``FOR UPDATE SKIP LOCKED`` gives
each batch rows no other batch holds.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from collections import OrderedDict

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from subgraphs.kit.resources import Resources
from worker.webhooks.processing import DeliveryOutcome, process_deliveries

log = structlog.get_logger(__name__)

# A batch holds its customers' row locks until it commits: bounded so that an API write for
# one of them waits a few deliveries' time at most.
MAX_BATCH = 50
# Batches running at once (of one merchant, and in all): a batch runs its statements one
# after another, so the others keep Postgres and this process busy while it waits for a round
# trip. Each takes a connection. In the bench's (b) with 2,000 buyers 2 lanes drained 415
# orders/s, 4 lanes 563/s; with 50 buyers (every batch holds the same customers, so lanes wait
# for each other's row locks) 381/s and 339/s (bench/README.md).
LANES = 4
# Deliveries this worker's batches finished without their jobs, remembered for those jobs.
# A done delivery is never pending again (only a failed one can be retried), so the memory
# cannot hide work; a job it has forgotten claims nothing and is skipped.
_FINISHED_MEMORY = 20_000


class DeliveryBatches:
    def __init__(self, resources: Resources) -> None:
        self._resources = resources
        self._waiting: dict[str, dict[str, asyncio.Future[DeliveryOutcome]]] = {}
        # Merchants told that deliveries are due since their drain last looked.
        self._woken: set[str] = set()
        # Merchants whose last batch filled its room: more is due than one batch takes.
        self._backlogged: set[str] = set()
        self._drains: dict[str, set[asyncio.Task[None]]] = {}
        self._connections = asyncio.Semaphore(LANES)
        self._finished_ahead: OrderedDict[str, None] = OrderedDict()

    async def process(self, merchant_id: str, delivery_id: str) -> DeliveryOutcome:
        """The delivery's outcome, processed in the merchant's next batch. A job cancelled
        meanwhile (its timeout) leaves the batch running: the row is claimed there, once."""
        if delivery_id in self._finished_ahead:
            # A batch with room took it before this job started.
            del self._finished_ahead[delivery_id]
            return DeliveryOutcome.SKIPPED
        waiting = self._waiting.setdefault(merchant_id, {})
        future = waiting.get(delivery_id)
        if future is None:
            future = waiting[delivery_id] = asyncio.get_running_loop().create_future()
        self._start_lane(merchant_id)
        return await asyncio.shield(future)

    def wake(self, merchant_id: str) -> None:
        """The merchant has due deliveries (committed before this call): a drain takes them."""
        self._woken.add(merchant_id)
        self._start_lane(merchant_id)

    async def settled(self) -> None:
        """Once no drain runs (and every wake and job so far has been taken care of)."""
        while drains := [drain for lanes in self._drains.values() for drain in lanes]:
            await asyncio.gather(*drains, return_exceptions=True)

    def _has_work(self, merchant_id: str) -> bool:
        return merchant_id in self._woken or bool(self._waiting.get(merchant_id))

    def _start_lane(self, merchant_id: str) -> None:
        drains = self._drains.setdefault(merchant_id, set())
        if len(drains) < LANES:
            drains.add(asyncio.create_task(self._drain(merchant_id)))

    async def _drain(self, merchant_id: str) -> None:
        drain = asyncio.current_task()
        try:
            while self._has_work(merchant_id):
                async with self._connections:
                    # What waits once a connection is ours: the batch grows while we wait.
                    if not self._has_work(merchant_id):
                        break
                    waiting = self._waiting.setdefault(merchant_id, {})
                    # A share of what waits, so that the other lane gets the rest.
                    size = min(MAX_BATCH, -(-len(waiting) // LANES))
                    batch = dict(itertools.islice(waiting.items(), size))
                    for delivery_id in batch:
                        del waiting[delivery_id]
                    # From here on a wake is news to this batch's claim: it goes round again.
                    self._woken.discard(merchant_id)
                    if merchant_id in self._backlogged:
                        # More is due than a batch holds: the other lane claims beside this
                        # one (each skips the rows the other holds).
                        self._woken.add(merchant_id)
                    if waiting or merchant_id in self._backlogged:
                        self._start_lane(merchant_id)
                    room = MAX_BATCH - len(batch)
                    try:
                        outcomes = await process_deliveries(
                            self._resources, merchant_id, list(batch), room=room
                        )
                    except Exception as exc:  # the database unreachable
                        for future in batch.values():
                            future.set_exception(exc)
                        # What it would have claimed stays pending, and the sweeper wakes
                        # the merchant again: no going round while the database is away.
                        self._backlogged.discard(merchant_id)
                        self._woken.discard(merchant_id)
                        log.warning("webhook_drain_failed", merchant_id=merchant_id, error=str(exc))
                        continue
                for delivery_id, future in batch.items():
                    future.set_result(outcomes.pop(delivery_id))
                if room and len(outcomes) >= room:
                    # The batch filled its room: more may be due.
                    self._backlogged.add(merchant_id)
                    self.wake(merchant_id)
                else:
                    self._backlogged.discard(merchant_id)
                self._remember_finished(outcomes)
        finally:
            # Between the last look at the queue and here nothing ran (no await): a delivery
            # handed over (or a wake) from now on finds one drain fewer, and starts one if need
            # be (a done callback would leave a window where it finds the drains full and all
            # ending).
            self._drains[merchant_id].discard(drain)
            if not self._waiting.get(merchant_id):
                self._waiting.pop(merchant_id, None)

    def _remember_finished(self, outcomes: dict[str, DeliveryOutcome]) -> None:
        """The deliveries a batch took with its room: their jobs, when they come, end there."""
        for delivery_id, outcome in outcomes.items():
            if outcome is DeliveryOutcome.DONE:
                self._finished_ahead[delivery_id] = None
        while len(self._finished_ahead) > _FINISHED_MEMORY:
            self._finished_ahead.popitem(last=False)


# One per worker process (per its sessions): arq hands each job a copy of the worker's ctx, so
# the batches cannot live there.
_BATCHES: weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], DeliveryBatches] = (
    weakref.WeakKeyDictionary()
)


def batches_of(resources: Resources) -> DeliveryBatches:
    batches = _BATCHES.get(resources.sessions)
    if batches is None:
        batches = _BATCHES[resources.sessions] = DeliveryBatches(resources)
    return batches
