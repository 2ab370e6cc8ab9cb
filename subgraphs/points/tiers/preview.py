"""Previewing VIP tiers: which tier every customer (or the chosen ones) would be in under draft
tiers, or under the current ones, before the merchant launches them. A query: it reads and
writes nothing (no audit entry either)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.points.customers.repository import CustomerRepository, CustomerTierFacts
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.tiers.repository import TierRepository
from subgraphs.points.tiers.rules import RankedTier, assign_tier, distribution
from subgraphs.points.tiers.service import TierDraft, ranked_tier
from subgraphs.points.tiers.validation import (
    MAX_TIERS,
    invalid_tier,
    validated_names,
    validated_rank,
    validated_rules,
)

# Previews lock nothing and read three columns, so they can take bigger bites.
PREVIEW_BATCH = 2000
MAX_PREVIEW_CUSTOMER_IDS = 1000
DEFAULT_SAMPLE_SIZE = 10
MAX_SAMPLE_SIZE = 100


@dataclass(frozen=True, slots=True)
class PreviewTier:
    tier_id: str | None  # None for a draft tier
    names: dict[str, str]
    rank: int
    customers: int


@dataclass(frozen=True, slots=True)
class PreviewAssignment:
    customer_id: str
    tier_id: str | None
    names: dict[str, str] | None  # None: the customer would be in no tier


@dataclass(frozen=True, slots=True)
class TierPreview:
    tiers: list[PreviewTier]
    no_tier_count: int
    customers: int
    sample: list[PreviewAssignment]


def _preview_error(field_path: str, message: str) -> PointsError:
    return PointsError(PointsErrorCode.INVALID_PREVIEW, field_path, message)


def _draft_tiers(drafts: Sequence[TierDraft]) -> list[tuple[RankedTier, dict[str, str]]]:
    if len(drafts) > MAX_TIERS:
        raise _preview_error("tiers", f"a program has at most {MAX_TIERS} tiers")
    tiers: list[tuple[RankedTier, dict[str, str]]] = []
    ranks: dict[int, int] = {}
    for index, draft in enumerate(drafts):
        prefix = f"tiers.{index}."
        rank = validated_rank(draft.rank, f"{prefix}rank")
        if rank in ranks:
            raise invalid_tier(f"{prefix}rank", f"rank {rank} is also given to tiers.{ranks[rank]}")
        ranks[rank] = index
        rules = validated_rules(draft.rules, f"{prefix}rules.")
        # A prefix no stored id can have, so drafts never collide with real tiers.
        tiers.append(
            (
                RankedTier(f"draft:{index}", rank, rules),
                validated_names(draft.names, f"{prefix}names"),
            )
        )
    return tiers


def _assignment(
    tiers: Sequence[RankedTier],
    names: dict[str, dict[str, str]],
    customer: CustomerTierFacts,
    *,
    draft: bool,
) -> PreviewAssignment:
    tier_id = assign_tier(tiers, customer.facts)
    return PreviewAssignment(
        customer_id=customer.customer_id,
        tier_id=None if draft else tier_id,
        names=None if tier_id is None else names[tier_id],
    )


async def _simulate_chosen(
    customers: CustomerRepository,
    tiers: Sequence[RankedTier],
    customer_ids: Sequence[str],
    sample_size: int,
) -> tuple[Counter[str | None], list[CustomerTierFacts]]:
    wanted = list(dict.fromkeys(customer_ids))
    if not 0 < len(wanted) <= MAX_PREVIEW_CUSTOMER_IDS:
        raise _preview_error(
            "customerIds", f"give 1 to {MAX_PREVIEW_CUSTOMER_IDS} customer ids, or none"
        )
    found = {c.customer_id: c for c in await customers.tier_facts_by_ids(wanted)}
    missing = [customer_id for customer_id in wanted if customer_id not in found]
    if missing:
        raise PointsError(
            PointsErrorCode.CUSTOMER_NOT_FOUND, "customerIds", f"no customer {missing[0]}"
        )
    population = [found[customer_id] for customer_id in wanted]
    counts = Counter(distribution(tiers, (customer.facts for customer in population)))
    return counts, population[:sample_size]


async def _simulate_everyone(
    customers: CustomerRepository, tiers: Sequence[RankedTier], sample_size: int
) -> tuple[Counter[str | None], list[CustomerTierFacts]]:
    counts: Counter[str | None] = Counter()
    sample: list[CustomerTierFacts] = []
    after: str | None = None
    while True:
        batch = await customers.tier_facts_after(after, PREVIEW_BATCH)
        counts.update(distribution(tiers, (customer.facts for customer in batch)))
        sample.extend(batch[: sample_size - len(sample)])
        if len(batch) < PREVIEW_BATCH:
            return counts, sample
        after = batch[-1].customer_id


async def preview_tiers(
    session: AsyncSession,
    merchant_id: str,
    *,
    drafts: Sequence[TierDraft] | None = None,
    customer_ids: Sequence[str] | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> TierPreview:
    """Which tier each customer would be in under ``drafts`` (default: the current tiers), over
    all customers or the given ones. Writes nothing."""
    if not 0 <= sample_size <= MAX_SAMPLE_SIZE:
        raise _preview_error("sampleSize", f"sampleSize must be between 0 and {MAX_SAMPLE_SIZE}")
    customers = CustomerRepository(session, merchant_id)
    if drafts is None:
        rows = await TierRepository(session, merchant_id).tiers()
        tiers = [(ranked_tier(row), row.name) for row in rows]
    else:
        tiers = _draft_tiers(drafts)
    ranked = [tier for tier, _ in tiers]
    if customer_ids is None:
        counts, sample = await _simulate_everyone(customers, ranked, sample_size)
    else:
        counts, sample = await _simulate_chosen(customers, ranked, customer_ids, sample_size)
    names = {tier.tier_id: name for tier, name in tiers}
    return TierPreview(
        tiers=[
            PreviewTier(
                tier_id=None if drafts is not None else tier.tier_id,
                names=name,
                rank=tier.rank,
                customers=counts[tier.tier_id],
            )
            for tier, name in sorted(tiers, key=lambda pair: pair[0].rank)
        ],
        no_tier_count=counts[None],
        customers=counts.total(),
        sample=[
            _assignment(ranked, names, customer, draft=drafts is not None) for customer in sample
        ],
    )
