"""VIP tiers: editing them, and moving customers to the tier they now qualify for: one
customer on each of their ledger changes (``tier_assignment``), everyone when the tiers
change, and every merchant in the periodic sweep, which catches facts that change outside the
ledger (RFM scores). The rules themselves are pure (``tiers.rules``); previews of draft tiers
are in ``tiers.preview``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.ids import new_id
from db.models import VipTier
from db.session import tenant_unit_of_work
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.deletions import Deletions
from subgraphs.kit.jobs import for_each_merchant
from subgraphs.kit.repository import AuditTrail, StaleVersion
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.customers.repository import CustomerRepository
from subgraphs.points.errors import (
    MAX_CREATE_KEY_LENGTH,
    PointsError,
    PointsErrorCode,
    check_idempotency_key,
    check_replay,
    input_fingerprint,
    version_checked,
)
from subgraphs.points.tiers.repository import TierRepository, merchant_ids_with_tiers
from subgraphs.points.tiers.rules import (
    FALLBACK_LOCALE,
    RankedTier,
    TierBenefits,
    TierFacts,
    TierRules,
    assign_tier,
)
from subgraphs.points.tiers.validation import (
    MAX_TIERS,
    invalid_tier,
    validated_benefits,
    validated_names,
    validated_rank,
    validated_rules,
)

# Customers per statement: small enough that one batch's row locks and updates stay short.
DEFAULT_BATCH = 500
DELETED_TIER = "VipTier"  # the entity name of deleted tiers in ``deletions``


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


def ranked_tier(row: VipTier) -> RankedTier:
    return RankedTier(row.id, row.rank, TierRules.from_json(row.rules))


def _check_rank_free(tiers: Sequence[VipTier], rank: int, *, tier_id: str | None = None) -> None:
    holder = next((tier for tier in tiers if tier.rank == rank and tier.id != tier_id), None)
    if holder is not None:
        raise PointsError(
            PointsErrorCode.TIER_RANK_TAKEN,
            "rank",
            f"rank {rank} is taken by {holder.name[FALLBACK_LOCALE]}; ranks order the tiers",
        )


def _tier_not_found() -> PointsError:
    return PointsError(PointsErrorCode.TIER_NOT_FOUND, "id", "tier not found")


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
    write: WriteContext,
    draft: TierDraft,
    *,
    idempotency_key: str,
    batch: int = DEFAULT_BATCH,
) -> TierWrite:
    """Once per idempotency key (the merchant's tier lock orders concurrent retries): a retry
    returns the first tier, moving no one; another request under it: IDEMPOTENCY_KEY_REUSED."""
    check_idempotency_key(idempotency_key, MAX_CREATE_KEY_LENGTH)
    names = validated_names(draft.names, "names")
    rank = validated_rank(draft.rank, "rank")
    rules = validated_rules(draft.rules, "rules.")
    benefits = validated_benefits(draft.benefits, "benefits.")
    fingerprint = input_fingerprint(
        {"name": names, "rank": rank, "rules": rules.to_json(), "benefits": benefits.to_json()}
    )
    repository = TierRepository(write.session, write.merchant_id)
    await repository.lock()
    existing = await repository.tier_by_idempotency_key(idempotency_key)
    if existing is not None:
        check_replay(existing.idempotency_fingerprint, fingerprint)
        return TierWrite(existing, Recalculation(0, 0))
    tiers = await repository.tiers()
    if len(tiers) >= MAX_TIERS:
        raise invalid_tier("rank", f"a program has at most {MAX_TIERS} tiers")
    _check_rank_free(tiers, rank)
    tier = await repository.insert(
        tier_id=new_id(),
        name=names,
        rank=rank,
        rules=rules.to_json(),
        benefits=benefits.to_json(),
        idempotency_key=idempotency_key,
        idempotency_fingerprint=fingerprint,
    )
    await write.audit.record(AuditAction.TIER_CREATED, _snapshot(tier))
    recalculation = await recalculate_tiers(
        write.session, write.merchant_id, batch=batch, actor_id=write.actor_id
    )
    return TierWrite(tier, recalculation)


async def update_tier(
    write: WriteContext,
    tier_id: str,
    changes: TierChanges,
    *,
    expected_version: int | None = None,
    batch: int = DEFAULT_BATCH,
) -> TierWrite:
    """Apply ``changes`` (over ``expected_version`` only, if given); move whom it concerns."""
    values: dict[str, Any] = {}
    if changes.names is not None:
        values["name"] = validated_names(changes.names, "names")
    if changes.rank is not None:
        values["rank"] = validated_rank(changes.rank, "rank")
    if changes.rules is not None:
        values["rules"] = validated_rules(changes.rules, "rules.").to_json()
    if changes.benefits is not None:
        values["benefits"] = validated_benefits(changes.benefits, "benefits.").to_json()
    repository = TierRepository(write.session, write.merchant_id)
    await repository.lock()
    tiers = await repository.tiers()
    current = next((tier for tier in tiers if tier.id == tier_id), None)
    if current is None:
        raise _tier_not_found()
    if changes.rank is not None:
        _check_rank_free(tiers, changes.rank, tier_id=tier_id)
    with version_checked("tier", expected_version):
        if expected_version is not None and current.version != expected_version:
            raise StaleVersion(current.version)  # an empty change is checked too
        if not values:
            return TierWrite(current, Recalculation(0, 0))
        before = _snapshot(current)
        tier = await repository.update_versioned(tier_id, values, expected_version=expected_version)
    assert tier is not None, "the tier is locked against deletion by the advisory lock"
    await write.audit.record(
        AuditAction.TIER_UPDATED, {"tier_id": tier_id, "before": before, "after": _snapshot(tier)}
    )
    # Names and benefits do not decide who is in the tier.
    if "rank" in values or "rules" in values:
        recalculation = await recalculate_tiers(
            write.session, write.merchant_id, batch=batch, actor_id=write.actor_id
        )
    else:
        recalculation = Recalculation(0, 0)
    return TierWrite(tier, recalculation)


async def delete_tier(
    write: WriteContext,
    tier_id: str,
    *,
    batch: int = DEFAULT_BATCH,
) -> Recalculation:
    """Delete the tier; its customers move to the next tier they qualify for (or none). A tier
    this merchant deleted already stays deleted (0 move); one never theirs is TIER_NOT_FOUND."""
    repository = TierRepository(write.session, write.merchant_id)
    deletions = Deletions(write.session, write.merchant_id, DELETED_TIER)
    await repository.lock()
    tier = await repository.tier(tier_id)
    if tier is None:
        if await deletions.deleted(tier_id):
            return Recalculation(0, 0)
        raise _tier_not_found()
    await repository.delete_one(tier_id)
    await deletions.record(tier_id)
    await write.audit.record(AuditAction.TIER_DELETED, _snapshot(tier))
    return await recalculate_tiers(
        write.session, write.merchant_id, batch=batch, actor_id=write.actor_id
    )


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
    customers = CustomerRepository(session, merchant_id)
    checked = reassigned = 0
    after: str | None = None
    while True:
        found = await customers.tier_facts_after(after, batch, lock=True)
        changes: dict[str, str | None] = {}
        audits: list[dict[str, Any]] = []
        for customer in found:
            tier_id = assign_tier(tiers, customer.facts)
            if tier_id != customer.tier_id:
                changes[customer.customer_id] = tier_id
                audits.append(_assignment_audit(customer.customer_id, customer.tier_id, tier_id))
        await customers.assign_tiers(changes)
        await AuditTrail(session, merchant_id, actor_id).record_many(
            AuditAction.TIER_ASSIGNED, audits
        )
        checked += len(found)
        reassigned += len(changes)
        if len(found) < batch:
            return Recalculation(checked, reassigned)
        after = found[-1].customer_id


def _assignment_audit(
    customer_id: str, previous: str | None, tier_id: str | None
) -> dict[str, Any]:
    return {"customer_id": customer_id, "from_tier_id": previous, "tier_id": tier_id}


# The ``cause`` in the audit of a tier the customer's own activity (a ledger change) moved them
# to: the TIER_UPGRADED message tells of those only (a merchant's rule change or the nightly
# pass moves customers without a word).
TIER_CAUSED_BY_ACTIVITY = "activity"


@dataclass(frozen=True, slots=True)
class TierAssignment:
    tier_id: str | None
    # The ``tier_assigned`` audit entry when the tier changes; None when it stays.
    audit: dict[str, Any] | None


def tier_assignment(
    tiers: Sequence[RankedTier], customer_id: str, previous: str | None, facts: TierFacts
) -> TierAssignment:
    """The tier one customer qualifies for with ``facts`` (as a ledger change leaves them,
    the customer locked), and the audit of the move, caused by their activity; the ledger
    writes both in the statement that records its entry."""
    tier_id = assign_tier(tiers, facts)
    if tier_id == previous:
        return TierAssignment(tier_id, None)
    audit = {**_assignment_audit(customer_id, previous, tier_id), "cause": TIER_CAUSED_BY_ACTIVITY}
    return TierAssignment(tier_id, audit)


async def recalculate_all_tiers(
    sessions: async_sessionmaker[AsyncSession], *, batch: int = DEFAULT_BATCH
) -> TierSweep:
    """The periodic job: recalculate every merchant that has tiers. Catches what changes
    outside the ledger (RFM scores written by analytics)."""
    recalculated: dict[str, Recalculation] = {}

    async def recalculate(merchant_id: str) -> None:
        # One transaction per merchant: row locks last one merchant's recalculation, and one
        # merchant's failure neither undoes nor blocks the others.
        async with tenant_unit_of_work(sessions, merchant_id) as session:
            recalculated[merchant_id] = await recalculate_tiers(session, merchant_id, batch=batch)

    sweep = await for_each_merchant(
        sessions,
        page=merchant_ids_with_tiers,
        merchant_id=str,
        work=recalculate,
        failure_event="tier_recalculation_failed",
    )
    return TierSweep(recalculated, sweep.failed)
