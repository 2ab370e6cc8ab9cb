"""Loyalty metrics: computed from the ledger, the redemptions and the RFM segment counts,
cached per merchant until the ledger changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.analytics.repository import AnalyticsRepository, LoyaltyTotals
from subgraphs.analytics.rfm import service as rfm
from subgraphs.analytics.rfm.repository import SegmentCount
from subgraphs.kit.cache import TenantCache

# The parameter is the cached shape's version: a deploy that changes ``LoyaltyMetricsSnapshot``
# bumps it, so it never decodes an entry an older version wrote (metrics still count the
# lookups as the "loyalty-metrics" cache).
METRICS_CACHE_NAME = "loyalty-metrics:v2"
# Writers bump the merchant's cache generation, so the TTL only bounds memory, not staleness.
METRICS_CACHE_TTL_SECONDS = 600


@dataclass(frozen=True, slots=True)
class LoyaltyMetricsSnapshot:
    totals: LoyaltyTotals
    segments: tuple[SegmentCount, ...]


async def fresh_loyalty_metrics(session: AsyncSession, merchant_id: str) -> LoyaltyMetricsSnapshot:
    totals = await AnalyticsRepository(session, merchant_id).loyalty_totals()
    segments = await rfm.segment_counts(session, merchant_id)
    return LoyaltyMetricsSnapshot(totals, tuple(segments))


def _decode(cached: dict[str, Any]) -> LoyaltyMetricsSnapshot:
    return LoyaltyMetricsSnapshot(
        LoyaltyTotals(**cached["totals"]),
        tuple(SegmentCount(**segment) for segment in cached["segments"]),
    )


async def loyalty_metrics(
    cache: TenantCache,
    merchant_id: str,
    load: Callable[[], Awaitable[LoyaltyMetricsSnapshot]],
) -> LoyaltyMetricsSnapshot:
    """The merchant's metrics from the cache, or from ``load`` (then cached)."""
    return await cache.get_or_load(
        merchant_id,
        METRICS_CACHE_NAME,
        load,
        encode=asdict,
        decode=_decode,
        ttl_seconds=METRICS_CACHE_TTL_SECONDS,
    )
