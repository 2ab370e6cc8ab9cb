"""One computation per event per key, fanned out to every local subscriber of that key.

A hub per key (channel, snapshot kind, merchant, ...) holds ONE subscription to the channel
and computes ONE snapshot per relevant event, which every subscriber of the key receives.
Each subscriber keeps only the latest snapshot it has not taken yet, so a slow one never
holds the others back. The first subscriber of a key starts the hub; the last one leaving
stops it (its task and its channel subscription).

The key decides what is computed: callers put the merchant (and the customer, for
per-customer snapshots) in it, so a snapshot computed for one key never reaches a
subscriber of another.

A computation that fails after an event reaches every subscriber once as the exception
(their stream goes on for the next event); the hub keeps running. Framework-free: the
GraphQL side is ``kit.graphql.subscriptions.live_snapshots``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any, Generic, TypeVar

import structlog

from subgraphs.kit.observability import FANOUT_SECONDS

log = structlog.get_logger(__name__)

T = TypeVar("T")

Subscribe = Callable[[], AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]]


class _Slot(Generic[T]):
    """One subscriber's mailbox: the latest snapshot (or failure) it has not taken yet."""

    def __init__(self) -> None:
        self._seq = -1
        self._value: T | BaseException | None = None
        self._pending = False
        self._closed = False
        self._changed = asyncio.Event()

    def offer(self, seq: int, value: T | BaseException) -> None:
        # Snapshots are ordered by when their read began: a later one never gives way to an
        # earlier one finishing late.
        if seq <= self._seq or self._closed:
            return
        self._seq, self._value, self._pending = seq, value, True
        self._changed.set()

    def close(self) -> None:
        self._closed = True
        self._changed.set()

    async def next(self) -> T | BaseException | None:
        """The next snapshot; None once the hub ended (the channel went away)."""
        while not self._pending:
            if self._closed:
                return None
            self._changed.clear()
            await self._changed.wait()
        value, self._value, self._pending = self._value, None, False
        return value

    async def stream(self) -> AsyncIterator[T | BaseException]:
        while True:
            value = await self.next()
            if value is None:
                return
            yield value


class _Hub(Generic[T]):
    def __init__(
        self,
        subscribe: Subscribe,
        compute: Callable[[], Awaitable[T | None]],
        relevant: Callable[[Mapping[str, Any]], bool] | None,
    ) -> None:
        self._subscribe = subscribe
        self._compute = compute
        self._relevant = relevant
        self._seq = 0
        self.slots: set[_Slot[T]] = set()
        self.computations = 0
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._run())

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def compute(self) -> T | None:
        self.computations += 1
        return await self._compute()

    async def _run(self) -> None:
        try:
            async with self._subscribe() as events:
                self.ready.set_result(None)
                async for event in events:
                    if self._relevant is not None and not self._relevant(event):
                        continue
                    seq = self.next_seq()
                    started = time.perf_counter()
                    result: T | BaseException | None
                    try:
                        result = await self.compute()
                    except Exception as exc:  # every subscriber gets it once, then goes on
                        log.warning("live_snapshot_failed", error=repr(exc))
                        result = exc
                    if result is None:
                        continue
                    for slot in list(self.slots):
                        slot.offer(seq, result)
                    FANOUT_SECONDS.observe(time.perf_counter() - started)
        except Exception as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)  # the subscriber sees it, as it would have
                return
            raise
        finally:
            if not self.ready.done():
                self.ready.cancel()
            for slot in list(self.slots):
                slot.close()


class SnapshotFanout:
    """The process's hubs, by key. One per event loop: create it with the loop's resources."""

    def __init__(self) -> None:
        self._hubs: dict[Hashable, _Hub[Any]] = {}

    def active_keys(self) -> list[Hashable]:
        return list(self._hubs)

    def computations(self, key: Hashable) -> int:
        """How many snapshots the key's hub computed (initial ones included); 0 without one."""
        hub = self._hubs.get(key)
        return 0 if hub is None else hub.computations

    @asynccontextmanager
    async def subscribe(
        self,
        key: Hashable,
        *,
        subscribe: Subscribe,
        compute: Callable[[], Awaitable[T | None]],
        relevant: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> AsyncIterator[AsyncIterator[T | BaseException]]:
        """The key's snapshots: the current one (read once the channel is subscribed, so no
        change slips between), then one per relevant event. Ends at once when the first read
        finds nothing (None), and when the channel's subscription ends. ``subscribe``,
        ``compute`` and ``relevant`` are used only by the key's first subscriber: every
        subscriber of a key must pass the same ones."""
        found: _Hub[T] | None = self._hubs.get(key)
        if found is None or found.task.done():  # none yet, or its channel went away
            found = self._hubs[key] = _Hub(subscribe, compute, relevant)
        hub = found
        slot: _Slot[T] = _Slot()
        hub.slots.add(slot)
        try:
            try:
                await asyncio.shield(hub.ready)
            except BaseException:
                if self._hubs.get(key) is hub and hub.ready.done():
                    del self._hubs[key]
                raise
            seq = hub.next_seq()
            first = await hub.compute()
            if first is None:
                yield _empty()
                return
            slot.offer(seq, first)
            yield slot.stream()
        finally:
            hub.slots.discard(slot)
            if not hub.slots:
                if self._hubs.get(key) is hub:
                    del self._hubs[key]
                await _stop(hub.task)


async def _empty() -> AsyncIterator[Any]:
    return
    yield  # pragma: no cover


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError, Exception):
        await task
