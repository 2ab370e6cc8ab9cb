"""Loyalty metrics: computed from the ledger, cached per merchant until the ledger changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.analytics.repository import AnalyticsRepository, LoyaltyTotals
from subgraphs.kit.cache import TenantCache

METRICS_CACHE_NAME = "loyalty-metrics"
# Writers bump the merchant's cache generation, so the TTL only bounds memory, not staleness.
METRICS_CACHE_TTL_SECONDS = 600


async def fresh_loyalty_totals(session: AsyncSession, merchant_id: str) -> LoyaltyTotals:
    return await AnalyticsRepository(session, merchant_id).loyalty_totals()


async def loyalty_totals(
    cache: TenantCache, merchant_id: str, load: Callable[[], Awaitable[LoyaltyTotals]]
) -> LoyaltyTotals:
    """The merchant's totals from the cache, or from ``load`` (then cached)."""
    return await cache.get_or_load(
        merchant_id,
        METRICS_CACHE_NAME,
        load,
        encode=asdict,
        decode=lambda cached: LoyaltyTotals(**cached),
        ttl_seconds=METRICS_CACHE_TTL_SECONDS,
    )
