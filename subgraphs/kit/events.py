"""What every writer of a merchant's loyalty data does after committing."""

from __future__ import annotations

from typing import Any

from subgraphs.kit.pubsub import ledger_channel, segments_channel
from subgraphs.kit.resources import Resources


async def ledger_changed(resources: Resources, merchant_id: str, **details: Any) -> None:
    """Retire the merchant's cached reads, then wake their live subscriptions. Call after the
    commit: a subscriber that re-reads must see the change."""
    await resources.cache.invalidate_tenant(merchant_id)
    await resources.pubsub.publish(ledger_channel(merchant_id), details)


async def segments_recomputed(resources: Resources, merchant_id: str) -> None:
    """The merchant's RFM segment counts were refreshed: retire cached reads that include
    them (the loyalty metrics), then wake the dashboards that follow them."""
    await resources.cache.invalidate_tenant(merchant_id)
    await resources.pubsub.publish(segments_channel(merchant_id), {"event": "segments_recomputed"})
