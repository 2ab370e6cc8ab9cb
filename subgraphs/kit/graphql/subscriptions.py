"""The one way a subscription pushes fresh reads of the database after events on the bus.

The socket's context outlives any request, so every read opens its own unit of work (under
the merchant's row-level security) and never touches the request loaders. Reads are shared
(``kit.fanout``): per (channel, kind, merchant, key) the process holds one subscription to
the channel and makes one read per event, which every local subscriber of that key gets. A
new subscriber joins once the channel is subscribed and then reads the current snapshot, so
no change can slip between the two.

A resolver stays an async generator (so a refusal raised before the first read reaches the
client as it always did) and closes the snapshots when it is closed::

    snapshots = live_snapshots(
        info, channel=ledger_channel(merchant_id), kind="loyalty_metrics", read=current
    )
    async with aclosing(snapshots):
        async for snapshot in snapshots:
            yield snapshot

Errors: the first read failing ends the subscription with the error (as before). A read
after an event failing reaches each subscriber once as a GraphQL error (masked, ``data``
null) and the subscription stays open for the next event: one failed read must not end
every dashboard of a shop at once (and bring all of them back, reconnecting, together).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Mapping
from typing import Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from db.session import tenant_unit_of_work
from subgraphs.kit.graphql.context import Context

SnapshotT = TypeVar("SnapshotT")


def snapshot_key(
    channel: str, kind: str, merchant_id: str, key: tuple[Hashable, ...] = ()
) -> tuple[Hashable, ...]:
    """What a shared read is keyed by: never without the merchant the read runs for."""
    return ("live", channel, kind, merchant_id, *key)


async def live_snapshots(
    info: Info[Context[Any], Any],
    *,
    channel: str,
    kind: str,
    read: Callable[[AsyncSession], Awaitable[SnapshotT | None]],
    key: tuple[Hashable, ...] = (),
    relevant: Callable[[Mapping[str, Any]], bool] | None = None,
) -> AsyncGenerator[SnapshotT, None]:
    """What ``read`` finds now, then again after every event on ``channel`` (those for which
    ``relevant`` is true, when given). Ends at once when the first read finds nothing (None);
    a later None is not pushed.

    ``kind`` names the snapshot and ``key`` whatever else besides the viewer's merchant
    decides what ``read`` returns (e.g. the customer): subscribers with the same channel,
    kind, merchant and key share one read per event, so ``read`` and ``relevant`` must depend
    on nothing else (never on the viewer beyond its merchant: check permissions before)."""
    resources = info.context.resources
    merchant_id = info.context.viewer.merchant_id

    async def current() -> SnapshotT | None:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            return await read(session)

    async with resources.fanout.subscribe(
        snapshot_key(channel, kind, merchant_id, key),
        subscribe=lambda: resources.pubsub.subscribe(channel),
        compute=current,
        relevant=relevant,
    ) as snapshots:
        async for snapshot in snapshots:
            # A failed read is yielded as the exception: graphql-core turns a field's
            # Exception value into a field error, and the stream goes on.
            yield cast(SnapshotT, snapshot)
