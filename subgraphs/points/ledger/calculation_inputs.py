"""What an award reads besides the customer — the program settings, the bonus campaigns and the
VIP tiers — cached per merchant in the process, and used only at the version it was read at.

``program_versions`` holds one counter per merchant that triggers bump on every change of
those three tables (migration 0025); the ledger reads it in the statement that locks the
customer (``LedgerRepository.lock_customer_with_key``), so an award reads the three again only
after one of them changed (issue 12: they were three of its six statements). A cache filled
after a change committed may hold newer inputs than its version says, never older ones: the
version is read before them. Campaigns are kept from a day before they were read, so an award
dated up to then still finds the ones that ran; one dated earlier reads them again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.points.campaigns.service import campaign_terms_ending_after, running_campaign_terms
from subgraphs.points.program.calculation import CampaignTerms
from subgraphs.points.program.repository import program_version
from subgraphs.points.program.service import ProgramConfig, program_config
from subgraphs.points.tiers.rules import RankedTier
from subgraphs.points.tiers.service import list_tiers, ranked_tier

# Merchants kept, least recently used dropped first: one entry is a few kilobytes.
MAX_MERCHANTS = 4096
CAMPAIGN_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CalculationInputs:
    version: int
    config: ProgramConfig
    tiers: tuple[RankedTier, ...]
    # Active campaigns that end after ``since``, oldest first.
    campaigns: tuple[CampaignTerms, ...]
    since: datetime

    def running_campaigns(self, at: datetime) -> list[CampaignTerms] | None:
        """The campaigns running at ``at`` (as ``CampaignRepository.running`` selects them);
        None when ``at`` is before what the cache holds."""
        if at <= self.since:
            return None
        return [c for c in self.campaigns if c.starts_at <= at < c.ends_at]


_cached: OrderedDict[str, CalculationInputs] = OrderedDict()


async def calculation_inputs(
    session: AsyncSession, merchant_id: str, version: int | None = None
) -> CalculationInputs:
    """The merchant's inputs at ``version`` (when not given: the one the transaction's last
    customer lock read, else read here), from the cache when it holds that version."""
    if version is None:
        version = await program_version(session, merchant_id, seen=True)
    cached = _cached.get(merchant_id)
    if cached is not None and cached.version == version:
        _cached.move_to_end(merchant_id)
        return cached
    since = datetime.now(UTC) - CAMPAIGN_LOOKBACK
    inputs = CalculationInputs(
        version=version,
        config=await program_config(session, merchant_id),
        tiers=tuple(ranked_tier(row) for row in await list_tiers(session, merchant_id)),
        campaigns=tuple(await campaign_terms_ending_after(session, merchant_id, since)),
        since=since,
    )
    _cached[merchant_id] = inputs
    _cached.move_to_end(merchant_id)
    while len(_cached) > MAX_MERCHANTS:
        _cached.popitem(last=False)
    return inputs


async def running_campaigns(
    session: AsyncSession, merchant_id: str, inputs: CalculationInputs, at: datetime
) -> list[CampaignTerms]:
    """The campaigns running at ``at``: from ``inputs``, or read when ``at`` is older."""
    running = inputs.running_campaigns(at)
    if running is None:
        return await running_campaign_terms(session, merchant_id, at)
    return running
