"""Loyalty metrics: computed from the ledger, cached per merchant until the ledger changes."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.analytics.repository import AnalyticsRepository, LoyaltyTotals
from subgraphs.kit.cache import TenantCache

METRICS_CACHE_NAME = "analytics:loyalty-metrics"
# Writers bump the merchant's cache generation, so the TTL only bounds memory, not staleness.
METRICS_CACHE_TTL_SECONDS = 600


async def fresh_loyalty_totals(session: AsyncSession, merchant_id: str) -> LoyaltyTotals:
    return await AnalyticsRepository(session, merchant_id).loyalty_totals()


async def cached_loyalty_totals(cache: TenantCache, merchant_id: str) -> LoyaltyTotals | None:
    cached = await cache.get(merchant_id, METRICS_CACHE_NAME)
    return None if cached is None else LoyaltyTotals(**cached)


async def remember_loyalty_totals(
    cache: TenantCache, merchant_id: str, totals: LoyaltyTotals
) -> None:
    await cache.set(
        merchant_id, METRICS_CACHE_NAME, asdict(totals), ttl_seconds=METRICS_CACHE_TTL_SECONDS
    )
