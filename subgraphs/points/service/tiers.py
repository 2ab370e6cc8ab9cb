"""VIP tiers: editing them, moving every customer to the tier they now qualify for, and
previewing what draft tiers would do to the real customer base before launching them.

The rules themselves live in ``tier_rules`` (pure). The ledger reassigns one customer on each
of their ledger changes; this module reassigns everyone when the tiers change, and the
periodic sweep catches facts that change outside the ledger (RFM scores).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.ids import new_id
from db.models import VipTier
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.repository import insert_audit_log
from subgraphs.points.repository.tiers import (
    CustomerTierFacts,
    TierRepository,
    merchant_ids_with_tiers,
)
from subgraphs.points.service.errors import PointsError, PointsErrorCode
from subgraphs.points.service.tier_rules import (
    RankedTier,
    TierFacts,
    TierRules,
    assign_tier,
    distribution,
    rfm_score_of,
)

log = structlog.get_logger(__name__)

LOCALES = ("en", "es", "fr", "ar", "he")
FALLBACK_LOCALE = "en"
MAX_TIERS = 20
MAX_RANK = 10_000
MAX_NAME_LENGTH = 60
MAX_POINTS_THRESHOLD = 1_000_000_000
MAX_AMOUNT = Decimal(10) ** 12
CENT = Decimal("0.01")
# Customers per statement: small enough that one batch's row locks and updates stay short.
DEFAULT_BATCH = 500
# Previews lock nothing and read three columns, so they can take bigger bites.
PREVIEW_BATCH = 2000
MAX_PREVIEW_CUSTOMER_IDS = 1000
DEFAULT_SAMPLE_SIZE = 10
MAX_SAMPLE_SIZE = 100


@dataclass(frozen=True, slots=True)
class TierBenefits:
    """What a tier gives; read by checkout and redemption, not by the points calculation."""

    discount_percent: Decimal | None = None
    free_shipping: bool = False

    @classmethod
    def from_json(cls, benefits: dict[str, Any]) -> TierBenefits:
        percent = benefits.get("discount_percent")
        return cls(
            discount_percent=None if percent is None else Decimal(str(percent)),
            free_shipping=bool(benefits.get("free_shipping", False)),
        )

    def to_json(self) -> dict[str, Any]:
        percent = self.discount_percent
        return {
            "discount_percent": None if percent is None else str(percent),
            "free_shipping": self.free_shipping,
        }


@dataclass(frozen=True, slots=True)
class TierDraft:
    # (locale, name) pairs as entered, so a locale given twice is an error, not a silent pick.
    names: Sequence[tuple[str, str]]
    rank: int
    rules: TierRules
    benefits: TierBenefits = field(default_factory=TierBenefits)


@dataclass(frozen=True, slots=True)
class TierChanges:
    """An update: None keeps the current value; rules and benefits are replaced whole."""

    names: Sequence[tuple[str, str]] | None = None
    rank: int | None = None
    rules: TierRules | None = None
    benefits: TierBenefits | None = None


@dataclass(frozen=True, slots=True)
class Recalculation:
    customers: int
    reassigned: int


@dataclass(frozen=True, slots=True)
class TierWrite:
    tier: VipTier
    recalculation: Recalculation


@dataclass(frozen=True, slots=True)
class TierSweep:
    """What the periodic recalculation did, per merchant; failed merchants are retried next run."""

    recalculated: dict[str, Recalculation]
    failed: list[str]


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


def localized_name(names: dict[str, str], locale: str) -> str:
    return names.get(locale) or names[FALLBACK_LOCALE]


def ranked_tier(row: VipTier) -> RankedTier:
    return RankedTier(row.id, row.rank, TierRules.from_json(row.rules))


def _tier_facts(customer: CustomerTierFacts) -> TierFacts:
    return TierFacts(
        points_earned=customer.points_earned,
        total_spent=customer.total_spent,
        rfm_score=rfm_score_of(customer.rfm_score),
    )


def _invalid(field_path: str, message: str) -> PointsError:
    return PointsError(PointsErrorCode.INVALID_TIER, field_path, message)


def _names(names: Sequence[tuple[str, str]], field_path: str) -> dict[str, str]:
    normalized: dict[str, str] = {}
    for raw_locale, raw_name in names:
        locale = raw_locale.strip().lower()
        if locale not in LOCALES:
            raise _invalid(field_path, f"locale {raw_locale!r} is not one of {', '.join(LOCALES)}")
        if locale in normalized:
            raise _invalid(field_path, f"locale {locale} is given twice")
        name = raw_name.strip()
        if not name or len(name) > MAX_NAME_LENGTH or "\x00" in name:
            raise _invalid(field_path, f"{locale} name must be 1 to {MAX_NAME_LENGTH} characters")
        normalized[locale] = name
    if FALLBACK_LOCALE not in normalized:
        raise _invalid(
            field_path, "an English (en) name is required: other locales fall back to it"
        )
    return normalized


def _rank(rank: int, field_path: str) -> int:
    if not 0 <= rank <= MAX_RANK:
        raise _invalid(field_path, f"rank must be between 0 and {MAX_RANK}")
    return rank


def _threshold(value: Decimal | None, field_path: str, *, cents: bool) -> Decimal | None:
    if value is None:
        return None
    if not value.is_finite() or not 0 <= value <= MAX_AMOUNT:
        raise _invalid(field_path, f"must be a number from 0 to {MAX_AMOUNT}")
    if cents:
        if value != value.quantize(CENT):
            raise _invalid(field_path, "an amount has at most 2 decimals")
        return value.quantize(CENT)
    return value


def _rules(rules: TierRules, prefix: str) -> TierRules:
    points = rules.min_points_earned
    if points is not None and not 0 <= points <= MAX_POINTS_THRESHOLD:
        raise _invalid(f"{prefix}minPointsEarned", f"must be between 0 and {MAX_POINTS_THRESHOLD}")
    return replace(
        rules,
        min_total_spent=_threshold(rules.min_total_spent, f"{prefix}minTotalSpent", cents=True),
        min_rfm_score=_threshold(rules.min_rfm_score, f"{prefix}minRfmScore", cents=False),
    )


def _benefits(benefits: TierBenefits, prefix: str) -> TierBenefits:
    percent = benefits.discount_percent
    if percent is not None and (
        not percent.is_finite() or not 0 < percent <= 100 or percent != percent.quantize(CENT)
    ):
        raise _invalid(
            f"{prefix}discountPercent", "must be above 0 and at most 100, with 2 decimals at most"
        )
    return benefits


def _check_rank_free(tiers: Sequence[VipTier], rank: int, *, tier_id: str | None = None) -> None:
    holder = next((tier for tier in tiers if tier.rank == rank and tier.id != tier_id), None)
    if holder is not None:
        raise PointsError(
            PointsErrorCode.TIER_RANK_TAKEN,
            "rank",
            f"rank {rank} is taken by {holder.name[FALLBACK_LOCALE]}; ranks order the tiers",
        )


async def _tier_or_error(repository: TierRepository, tier_id: str) -> VipTier:
    tier = await repository.tier(tier_id)
    if tier is None:
        raise PointsError(PointsErrorCode.TIER_NOT_FOUND, "id", "tier not found")
    return tier


def _snapshot(tier: VipTier) -> dict[str, Any]:
    return {
        "tier_id": tier.id,
        "name": tier.name,
        "rank": tier.rank,
        "rules": tier.rules,
        "benefits": tier.benefits,
    }


async def list_tiers(session: AsyncSession, merchant_id: str) -> list[VipTier]:
    """The merchant's tiers, lowest rank first."""
    return await TierRepository(session, merchant_id).tiers()


async def create_tier(
    session: AsyncSession,
    merchant_id: str,
    draft: TierDraft,
    *,
    actor_id: str | None = None,
    batch: int = DEFAULT_BATCH,
) -> TierWrite:
    names = _names(draft.names, "names")
    rank = _rank(draft.rank, "rank")
    rules = _rules(draft.rules, "rules.")
    benefits = _benefits(draft.benefits, "benefits.")
    repository = TierRepository(session, merchant_id)
    await repository.lock()
    tiers = await repository.tiers()
    if len(tiers) >= MAX_TIERS:
        raise _invalid("rank", f"a program has at most {MAX_TIERS} tiers")
    _check_rank_free(tiers, rank)
    tier = await repository.insert(
        tier_id=new_id(),
        name=names,
        rank=rank,
        rules=rules.to_json(),
        benefits=benefits.to_json(),
    )
    await insert_audit_log(
        session,
        merchant_id=merchant_id,
        action="tier_created",
        actor_id=actor_id,
        metadata=_snapshot(tier),
    )
    recalculation = await recalculate_tiers(session, merchant_id, batch=batch, actor_id=actor_id)
    return TierWrite(tier, recalculation)


async def update_tier(
    session: AsyncSession,
    merchant_id: str,
    tier_id: str,
    changes: TierChanges,
    *,
    actor_id: str | None = None,
    batch: int = DEFAULT_BATCH,
) -> TierWrite:
    values: dict[str, Any] = {}
    if changes.names is not None:
        values["name"] = _names(changes.names, "names")
    if changes.rank is not None:
        values["rank"] = _rank(changes.rank, "rank")
    if changes.rules is not None:
        values["rules"] = _rules(changes.rules, "rules.").to_json()
    if changes.benefits is not None:
        values["benefits"] = _benefits(changes.benefits, "benefits.").to_json()
    repository = TierRepository(session, merchant_id)
    await repository.lock()
    tiers = await repository.tiers()
    current = next((tier for tier in tiers if tier.id == tier_id), None)
    if current is None:
        raise PointsError(PointsErrorCode.TIER_NOT_FOUND, "id", "tier not found")
    if changes.rank is not None:
        _check_rank_free(tiers, changes.rank, tier_id=tier_id)
    if not values:
        return TierWrite(current, Recalculation(0, 0))
    before = _snapshot(current)
    tier = await repository.update(tier_id, values)
    assert tier is not None, "the tier is locked against deletion by the advisory lock"
    await insert_audit_log(
        session,
        merchant_id=merchant_id,
        action="tier_updated",
        actor_id=actor_id,
        metadata={"tier_id": tier_id, "before": before, "after": _snapshot(tier)},
    )
    # Names and benefits do not decide who is in the tier.
    if "rank" in values or "rules" in values:
        recalculation = await recalculate_tiers(
            session, merchant_id, batch=batch, actor_id=actor_id
        )
    else:
        recalculation = Recalculation(0, 0)
    return TierWrite(tier, recalculation)


async def delete_tier(
    session: AsyncSession,
    merchant_id: str,
    tier_id: str,
    *,
    actor_id: str | None = None,
    batch: int = DEFAULT_BATCH,
) -> Recalculation:
    """Delete the tier; its customers move to the next tier they qualify for (or none)."""
    repository = TierRepository(session, merchant_id)
    await repository.lock()
    tier = await _tier_or_error(repository, tier_id)
    await repository.delete(tier_id)
    await insert_audit_log(
        session,
        merchant_id=merchant_id,
        action="tier_deleted",
        actor_id=actor_id,
        metadata=_snapshot(tier),
    )
    return await recalculate_tiers(session, merchant_id, batch=batch, actor_id=actor_id)


async def recalculate_tiers(
    session: AsyncSession,
    merchant_id: str,
    *,
    batch: int = DEFAULT_BATCH,
    actor_id: str | None = None,
) -> Recalculation:
    """Put every customer in the tier they qualify for now, streaming customers in id order.
    Writes (and audits as ``tier_assigned``) only the customers whose tier changes."""
    if batch < 1:
        raise ValueError("batch must be positive")
    repository = TierRepository(session, merchant_id)
    await repository.lock()
    tiers = [ranked_tier(row) for row in await repository.tiers()]
    checked = reassigned = 0
    after: str | None = None
    while True:
        customers = await repository.customer_facts_after(after, batch, lock=True)
        changes: dict[str, str | None] = {}
        audits: list[dict[str, Any]] = []
        for customer in customers:
            tier_id = assign_tier(tiers, _tier_facts(customer))
            if tier_id != customer.tier_id:
                changes[customer.customer_id] = tier_id
                audits.append(
                    {
                        "customer_id": customer.customer_id,
                        "from_tier_id": customer.tier_id,
                        "tier_id": tier_id,
                    }
                )
        await repository.assign(changes)
        await repository.insert_audit_logs("tier_assigned", audits, actor_id=actor_id)
        checked += len(customers)
        reassigned += len(changes)
        if len(customers) < batch:
            return Recalculation(checked, reassigned)
        after = customers[-1].customer_id


async def recalculate_all_tiers(
    sessions: async_sessionmaker[AsyncSession], *, batch: int = DEFAULT_BATCH
) -> TierSweep:
    """The periodic job: recalculate every merchant that has tiers. Catches what changes
    outside the ledger (RFM scores written by analytics)."""
    async with system_unit_of_work(sessions) as session:
        merchant_ids = await merchant_ids_with_tiers(session)
    recalculated: dict[str, Recalculation] = {}
    failed: list[str] = []
    for merchant_id in merchant_ids:
        # One transaction per merchant: row locks last one merchant's recalculation, and one
        # merchant's failure neither undoes nor blocks the others.
        try:
            async with tenant_unit_of_work(sessions, merchant_id) as session:
                recalculated[merchant_id] = await recalculate_tiers(
                    session, merchant_id, batch=batch
                )
        except Exception:
            log.exception("tier_recalculation_failed", merchant_id=merchant_id)
            failed.append(merchant_id)
    return TierSweep(recalculated, failed)


def _preview_error(field_path: str, message: str) -> PointsError:
    return PointsError(PointsErrorCode.INVALID_PREVIEW, field_path, message)


def _draft_tiers(drafts: Sequence[TierDraft]) -> list[tuple[RankedTier, dict[str, str]]]:
    if len(drafts) > MAX_TIERS:
        raise _preview_error("tiers", f"a program has at most {MAX_TIERS} tiers")
    tiers: list[tuple[RankedTier, dict[str, str]]] = []
    ranks: dict[int, int] = {}
    for index, draft in enumerate(drafts):
        prefix = f"tiers.{index}."
        rank = _rank(draft.rank, f"{prefix}rank")
        if rank in ranks:
            raise _invalid(f"{prefix}rank", f"rank {rank} is also given to tiers.{ranks[rank]}")
        ranks[rank] = index
        rules = _rules(draft.rules, f"{prefix}rules.")
        # A prefix no stored id can have, so drafts never collide with real tiers.
        tiers.append(
            (RankedTier(f"draft:{index}", rank, rules), _names(draft.names, f"{prefix}names"))
        )
    return tiers


def _assignment(
    tiers: Sequence[RankedTier],
    names: dict[str, dict[str, str]],
    customer: CustomerTierFacts,
    *,
    draft: bool,
) -> PreviewAssignment:
    tier_id = assign_tier(tiers, _tier_facts(customer))
    return PreviewAssignment(
        customer_id=customer.customer_id,
        tier_id=None if draft else tier_id,
        names=None if tier_id is None else names[tier_id],
    )


async def _simulate_chosen(
    repository: TierRepository,
    tiers: Sequence[RankedTier],
    customer_ids: Sequence[str],
    sample_size: int,
) -> tuple[Counter[str | None], list[CustomerTierFacts]]:
    wanted = list(dict.fromkeys(customer_ids))
    if not 0 < len(wanted) <= MAX_PREVIEW_CUSTOMER_IDS:
        raise _preview_error(
            "customerIds", f"give 1 to {MAX_PREVIEW_CUSTOMER_IDS} customer ids, or none"
        )
    found = {c.customer_id: c for c in await repository.customer_facts_by_ids(wanted)}
    missing = [customer_id for customer_id in wanted if customer_id not in found]
    if missing:
        raise PointsError(
            PointsErrorCode.CUSTOMER_NOT_FOUND, "customerIds", f"no customer {missing[0]}"
        )
    population = [found[customer_id] for customer_id in wanted]
    counts = Counter(distribution(tiers, map(_tier_facts, population)))
    return counts, population[:sample_size]


async def _simulate_everyone(
    repository: TierRepository, tiers: Sequence[RankedTier], sample_size: int
) -> tuple[Counter[str | None], list[CustomerTierFacts]]:
    counts: Counter[str | None] = Counter()
    sample: list[CustomerTierFacts] = []
    after: str | None = None
    while True:
        batch = await repository.customer_facts_after(after, PREVIEW_BATCH)
        counts.update(distribution(tiers, map(_tier_facts, batch)))
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
    actor_id: str | None = None,
) -> TierPreview:
    """Which tier each customer would be in under ``drafts`` (default: the current tiers), over
    all customers or the given ones. Writes nothing but the ``preview_simulated`` audit entry."""
    if not 0 <= sample_size <= MAX_SAMPLE_SIZE:
        raise _preview_error("sampleSize", f"sampleSize must be between 0 and {MAX_SAMPLE_SIZE}")
    repository = TierRepository(session, merchant_id)
    if drafts is None:
        tiers = [(ranked_tier(row), row.name) for row in await repository.tiers()]
    else:
        tiers = _draft_tiers(drafts)
    ranked = [tier for tier, _ in tiers]
    if customer_ids is None:
        counts, sample = await _simulate_everyone(repository, ranked, sample_size)
    else:
        counts, sample = await _simulate_chosen(repository, ranked, customer_ids, sample_size)
    names = {tier.tier_id: name for tier, name in tiers}
    preview = TierPreview(
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
    await insert_audit_log(
        session,
        merchant_id=merchant_id,
        action="preview_simulated",
        actor_id=actor_id,
        metadata={
            "draft": drafts is not None,
            "customer_count": preview.customers,
            "sampled": customer_ids is not None,
            "distribution": [
                {"tier_id": tier.tier_id, "name": tier.names, "customers": tier.customers}
                for tier in preview.tiers
            ],
            "no_tier_count": preview.no_tier_count,
        },
    )
    return preview
