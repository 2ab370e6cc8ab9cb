"""kit.fanout without a framework: a fake channel, so failures and slow subscribers are
easy to stage (the real Redis and WebSocket run in tests/subgraphs/analytics)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from subgraphs.kit.fanout import SnapshotFanout


class FakeChannel:
    def __init__(self, *, fail: Exception | None = None) -> None:
        self.queues: list[asyncio.Queue[dict[str, Any]]] = []
        self.fail = fail

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        if self.fail is not None:
            raise self.fail
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.queues.append(queue)

        async def events() -> AsyncIterator[dict[str, Any]]:
            while True:
                yield await queue.get()

        try:
            yield events()
        finally:
            self.queues.remove(queue)

    def publish(self, event: dict[str, Any]) -> None:
        for queue in self.queues:
            queue.put_nowait(event)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_failed_read_reaches_each_subscriber_once_and_they_stay() -> None:
    fanout = SnapshotFanout()
    channel = FakeChannel()
    results: list[int | Exception] = [1, RuntimeError("db down"), 3]

    async def compute() -> int:
        value = results.pop(0)
        if isinstance(value, Exception):
            raise value
        return value

    async with fanout.subscribe("k", subscribe=channel.subscribe, compute=compute) as snapshots:
        assert await anext(snapshots) == 1
        channel.publish({})
        failed = await anext(snapshots)
        assert isinstance(failed, RuntimeError)
        channel.publish({})
        assert await anext(snapshots) == 3
    await settle()
    assert fanout.active_keys() == []
    assert channel.queues == []


async def test_a_slow_subscriber_gets_only_the_latest_and_holds_no_one_back() -> None:
    fanout = SnapshotFanout()
    channel = FakeChannel()
    counter = iter(range(100))

    async def compute() -> int:
        return next(counter)

    async with (
        fanout.subscribe("k", subscribe=channel.subscribe, compute=compute) as slow,
        fanout.subscribe("k", subscribe=channel.subscribe, compute=compute) as fast,
    ):
        assert await anext(slow) == 0
        assert await anext(fast) == 1
        for _ in range(3):
            channel.publish({})
            assert await anext(fast) in (2, 3, 4)
        await settle()
        assert await anext(slow) == 4  # 2 and 3 were replaced, never queued
        assert len(channel.queues) == 1  # one channel subscription for both


async def test_keys_never_share_snapshots() -> None:
    fanout = SnapshotFanout()
    channel = FakeChannel()

    async def shop(name: str) -> str:
        return name

    async with (
        fanout.subscribe(("m1",), subscribe=channel.subscribe, compute=lambda: shop("m1")) as a,
        fanout.subscribe(("m2",), subscribe=channel.subscribe, compute=lambda: shop("m2")) as b,
    ):
        assert [await anext(a), await anext(b)] == ["m1", "m2"]
        channel.publish({})
        assert [await anext(a), await anext(b)] == ["m1", "m2"]


async def test_the_channel_refused_at_subscribe_is_raised_and_leaves_nothing() -> None:
    fanout = SnapshotFanout()
    channel = FakeChannel(fail=ConnectionError("redis down"))

    async def compute() -> int:
        return 1

    with pytest.raises(ConnectionError):
        async with fanout.subscribe("k", subscribe=channel.subscribe, compute=compute):
            pass
    assert fanout.active_keys() == []


async def test_nothing_at_first_ends_at_once_and_irrelevant_events_cost_nothing() -> None:
    fanout = SnapshotFanout()
    channel = FakeChannel()
    reads = 0

    async def missing() -> None:
        return None

    async with fanout.subscribe("gone", subscribe=channel.subscribe, compute=missing) as none:
        assert [s async for s in none] == []

    async def compute() -> int:
        nonlocal reads
        reads += 1
        return reads

    async with fanout.subscribe(
        "k",
        subscribe=channel.subscribe,
        compute=compute,
        relevant=lambda event: event.get("customer_id") == "c1",
    ) as snapshots:
        assert await anext(snapshots) == 1
        channel.publish({"customer_id": "c2"})
        channel.publish({"customer_id": "c1"})
        assert await anext(snapshots) == 2
    assert reads == 2
    await settle()
    assert fanout.active_keys() == []
