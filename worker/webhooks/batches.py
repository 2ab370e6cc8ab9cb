"""Deliveries of one merchant that arrive together go together: one transaction per batch.

arq runs up to ``max_jobs`` jobs at once, one per delivery. A job hands its delivery to the
worker's ``DeliveryBatches`` and waits for its outcome; a drain task of the merchant takes
every delivery waiting at that moment as a batch (``processing.process_deliveries``), and the
deliveries that arrive while it runs make the next one. So a lone delivery goes at once (a
batch of one, no waiting).

Under a backlog a batch fills its room with the merchant's oldest due deliveries whose jobs
have not started: arq starts jobs a few Redis round trips each, so batches made of started
jobs only held about 12 deliveries, and the batch's fixed cost (claim, lookups, rescore,
commit) was shared by that few (issue 12). The jobs of those deliveries come later and find
them done: the worker remembers what its batches finished (``_FINISHED_MEMORY``), so such a
job ends at once, without a claim.
Up to ``LANES`` drains per merchant run at once, and up to ``LANES`` batches in all (each
holds a connection while it runs: with arq running 100 jobs at once, the deliveries of many
merchants would otherwise take every connection of the worker's pool and leave none to its
other jobs); every batch takes its customers' row locks in one order
(``process_deliveries``), so concurrent batches wait for each other at worst.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from subgraphs.kit.resources import Resources
from worker.webhooks.processing import DeliveryOutcome, process_deliveries

# A batch holds its customers' row locks until it commits: bounded so that an API write for
# one of them waits a few deliveries' time at most.
MAX_BATCH = 50
# Batches of one merchant running at once: a batch runs its statements one after another, so
# a second one keeps Postgres busy while the first waits for a round trip. Each takes a
# connection (the worker's pool holds 2).
LANES = 2
# Deliveries this worker's batches finished without their jobs, remembered for those jobs.
# A done delivery is never pending again (only a failed one can be retried), so the memory
# cannot hide work; a job it has forgotten claims nothing and is skipped.
_FINISHED_MEMORY = 20_000


class DeliveryBatches:
    def __init__(self, resources: Resources) -> None:
        self._resources = resources
        self._waiting: dict[str, dict[str, asyncio.Future[DeliveryOutcome]]] = {}
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

    def _start_lane(self, merchant_id: str) -> None:
        drains = self._drains.setdefault(merchant_id, set())
        if len(drains) < LANES:
            drains.add(asyncio.create_task(self._drain(merchant_id)))

    async def _drain(self, merchant_id: str) -> None:
        drain = asyncio.current_task()
        try:
            while self._waiting.get(merchant_id):
                async with self._connections:
                    # What waits once a connection is ours: the batch grows while we wait.
                    waiting = self._waiting.get(merchant_id)
                    if not waiting:
                        break
                    # A share of what waits, so that the other lane gets the rest.
                    size = min(MAX_BATCH, -(-len(waiting) // LANES))
                    batch = dict(itertools.islice(waiting.items(), size))
                    for delivery_id in batch:
                        del waiting[delivery_id]
                    if waiting:
                        self._start_lane(merchant_id)
                    try:
                        outcomes = await process_deliveries(
                            self._resources, merchant_id, list(batch), room=MAX_BATCH - len(batch)
                        )
                    except Exception as exc:  # the database unreachable: each job fails with it
                        for future in batch.values():
                            future.set_exception(exc)
                        continue
                for delivery_id, future in batch.items():
                    future.set_result(outcomes.pop(delivery_id))
                self._remember_finished(outcomes)
        finally:
            # Between the last look at the queue and here nothing ran (no await): a delivery
            # handed over from now on finds one drain fewer, and starts one if need be (a done
            # callback would leave a window where it finds the drains full and all ending).
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
