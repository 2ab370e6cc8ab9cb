"""The one way a subscription pushes fresh reads of the database after events on the bus.

The socket's context outlives any request, so every read opens its own unit of work (under
the viewer's row-level security) and never touches the request loaders. The channel is
subscribed before the first read, so no change can slip between the two.

A resolver stays an async generator (so a refusal raised before the first read reaches the
client as it always did) and closes the snapshots when it is closed::

    snapshots = live_snapshots(info, channel=ledger_channel(merchant_id), read=current)
    async with aclosing(snapshots):
        async for snapshot in snapshots:
            yield snapshot
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from db.session import tenant_unit_of_work
from subgraphs.kit.graphql.context import Context

SnapshotT = TypeVar("SnapshotT")


async def live_snapshots(
    info: Info[Context[Any], Any],
    *,
    channel: str,
    read: Callable[[AsyncSession], Awaitable[SnapshotT | None]],
    relevant: Callable[[Mapping[str, Any]], bool] | None = None,
) -> AsyncGenerator[SnapshotT, None]:
    """What ``read`` finds now, then again after every event on ``channel`` (those for which
    ``relevant`` is true, when given). Ends at once when the first read finds nothing (None);
    a later None is not pushed."""
    resources = info.context.resources
    merchant_id = info.context.viewer.merchant_id

    async def current() -> SnapshotT | None:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            return await read(session)

    async with resources.pubsub.subscribe(channel) as events:
        snapshot = await current()
        if snapshot is None:
            return
        yield snapshot
        async for event in events:
            if relevant is not None and not relevant(event):
                continue
            snapshot = await current()
            if snapshot is not None:
                yield snapshot
