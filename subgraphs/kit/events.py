"""What every writer of a merchant's loyalty data does after committing."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.kit.after_commit import after_commit
from subgraphs.kit.jobs import nudge_notification_flows
from subgraphs.kit.pubsub import ledger_channel, segments_channel
from subgraphs.kit.resources import Resources


async def ledger_changed(resources: Resources, merchant_id: str, **details: Any) -> None:
    """Retire the merchant's cached reads, wake their live subscriptions, and nudge their
    notification flows (a ledger change may be points earned, a reward, a tier reached, a new
    balance for Klaviyo). Call after the commit: whoever re-reads must see the change."""
    await resources.cache.invalidate_tenant(merchant_id)
    await resources.pubsub.publish(ledger_channel(merchant_id), details)
    await nudge_notification_flows(resources.redis, merchant_id, calls=resources.redis_calls)


async def segments_recomputed(resources: Resources, merchant_id: str) -> None:
    """The merchant's RFM segment counts were refreshed: retire cached reads that include
    them (the loyalty metrics), then wake the dashboards that follow them."""
    await resources.cache.invalidate_tenant(merchant_id)
    await resources.pubsub.publish(segments_channel(merchant_id), {"event": "segments_recomputed"})


def notify_after_commit(session: AsyncSession, resources: Resources, merchant_id: str) -> None:
    """Nudge the merchant's notification flows once ``session``'s transaction commits: for a
    write outside the ledger that a message tells of (a GDPR request carried out), made in a
    unit of work its code does not own."""

    async def nudge() -> None:
        await nudge_notification_flows(resources.redis, merchant_id, calls=resources.redis_calls)

    after_commit(session, nudge)
