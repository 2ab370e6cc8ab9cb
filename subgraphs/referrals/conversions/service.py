"""Referrals from attribution to rewards: a friend attributed to an advocate's code (pending),
the friend's first qualifying order completing it, and the rewards of both sides — the
friend's released at once, the advocate's after the hold period (the refund window), both held
for the merchant's review when the referral looks suspicious, the advocate's cancelled when the
qualifying order is refunded or cancelled before it is released.

Every step is idempotent (one referral per friend, one reward per side, a completed referral
stays completed), so replayed, concurrent or out-of-order webhooks change nothing twice. The
rewards themselves are paid by a worker job (``worker/referrals``) that credits the points
ledger under ``referral:{id}:{side}``: the points subgraph is never imported from here."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from db.ids import new_id
from db.models import Referral, ReferralReward, ReferralRewardStatus, ReferralStatus
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.repository import AuditTrail
from subgraphs.kit.write_context import WriteContext
from subgraphs.referrals.conversions.fraud import PartyFacts, score_referral
from subgraphs.referrals.conversions.repository import (
    ConversionRepository,
    ReferralRewardRepository,
)
from subgraphs.referrals.program.service import (
    ReferralProgramConfig,
    RewardSpec,
    referral_program,
)
from subgraphs.referrals.repository import ReferralsRepository
from subgraphs.referrals.service import ReferralError, ReferralErrorCode

ADVOCATE = "advocate"
FRIEND = "friend"


class AttributionSource(enum.StrEnum):
    CUSTOMER_CREATE = "customer_create"  # the code on the friend's customers/create
    ORDER = "order"  # note_attributes or landing_site of the friend's first order
    DISCOUNT_CODE = "discount_code"  # the friend's referral discount code on an order
    CLAIM = "claim"  # referralClaim(code) from the storefront


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Attribution:
    referral: Referral
    created: bool  # False: the friend was referred already (a replay, or another code)


@dataclass(frozen=True, slots=True)
class QualifyingOrder:
    order_id: str
    subtotal: Decimal  # in the shop currency
    placed_at: datetime


class Completion(enum.StrEnum):
    COMPLETED = "completed"
    HELD = "held"  # completed, its rewards waiting for review
    ALREADY_COMPLETED = "already_completed"
    EXPIRED = "expired"  # the link had expired when the friend ordered
    NOT_REFERRED = "not_referred"
    BELOW_MINIMUM = "below_minimum"


async def attribute(
    session: AsyncSession,
    merchant_id: str,
    code: str,
    *,
    friend_customer_id: str,
    friend: PartyFacts,
    advocate: PartyFacts,
    source: AttributionSource,
    now: datetime,
) -> Attribution:
    """Attribute a friend to the advocate whose link has ``code``: a pending referral, scored
    for fraud. A friend is referred once; their own link cannot refer them."""
    links = await ReferralsRepository(session, merchant_id).links_by_codes([code.strip().upper()])
    if not links:
        raise ReferralError(ReferralErrorCode.CODE_NOT_FOUND, "code", "no referral link has it")
    link = links[0]
    program, _ = await referral_program(session, merchant_id)
    if not program.enabled:
        raise ReferralError(
            ReferralErrorCode.PROGRAM_DISABLED, "code", "the shop takes no new referrals"
        )
    if _expired(link.created_at, program, now):
        raise ReferralError(ReferralErrorCode.LINK_EXPIRED, "code", "this referral link expired")
    if link.advocate_customer_id == friend_customer_id:
        raise ReferralError(
            ReferralErrorCode.SELF_REFERRAL, "code", "a customer cannot refer themselves"
        )
    referrals = ConversionRepository(session, merchant_id)
    existing = await referrals.by_friend(friend_customer_id)
    if existing is not None:
        return Attribution(existing, created=False)
    recent = await referrals.attributed_since(link.advocate_customer_id, now - timedelta(days=1))
    fraud = score_referral(advocate, friend, advocate_referrals_today=recent)
    referral = await referrals.insert_new_referral(
        {
            "id": new_id(),
            "link_id": link.id,
            "advocate_customer_id": link.advocate_customer_id,
            "friend_customer_id": friend_customer_id,
            "status": ReferralStatus.PENDING.value,
            "source": source.value,
            "fraud_score": fraud.score,
            "fraud_reasons": fraud.reasons(),
            "created_at": now,
        }
    )
    if referral is None:  # a concurrent attribution of this friend committed first
        concurrent = await referrals.by_friend(friend_customer_id)
        assert concurrent is not None, "the only other unique key is the id"
        return Attribution(concurrent, created=False)
    await AuditTrail(session, merchant_id).record(
        AuditAction.REFERRAL_ATTRIBUTED,
        {
            "referral_id": referral.id,
            "advocate_customer_id": referral.advocate_customer_id,
            "friend_customer_id": friend_customer_id,
            "source": source.value,
            "fraud_score": str(fraud.score),
        },
    )
    return Attribution(referral, created=True)


async def complete(
    session: AsyncSession,
    merchant_id: str,
    friend_customer_id: str,
    order: QualifyingOrder,
    *,
    now: datetime,
) -> Completion:
    """The friend's order completes their pending referral if it reaches the program's
    minimum: the friend's reward is released now, the advocate's after the hold period (the
    tier the advocate reached decides its points); both wait for review when the referral
    scored at or above the fraud threshold."""
    found = await pending_referral(session, merchant_id, friend_customer_id)
    if isinstance(found, Completion):
        return found
    return await complete_pending(session, merchant_id, found, order, now=now)


async def look_up_friends(
    session: AsyncSession, merchant_id: str, customer_ids: Sequence[str]
) -> None:
    """Ask once, for a batch of orders, which of these customers nobody referred:
    ``pending_referral`` then needs no statement for them in this transaction."""
    await ConversionRepository(session, merchant_id).look_up_friends(customer_ids)


async def pending_referral(
    session: AsyncSession, merchant_id: str, friend_customer_id: str
) -> Referral | Completion:
    """The friend's referral, locked, if an order could still complete it; else why not
    (``NOT_REFERRED``, ``ALREADY_COMPLETED``). Asked first, so that most orders (of customers
    nobody referred) need nothing more of the referral program."""
    referral = await ConversionRepository(session, merchant_id).by_friend(
        friend_customer_id, for_update=True
    )
    if referral is None:
        return Completion.NOT_REFERRED
    if referral.status != ReferralStatus.PENDING.value:
        return Completion.ALREADY_COMPLETED
    return referral


async def complete_pending(
    session: AsyncSession,
    merchant_id: str,
    referral: Referral,
    order: QualifyingOrder,
    *,
    now: datetime,
) -> Completion:
    """``complete`` for the referral ``pending_referral`` found."""
    referrals = ConversionRepository(session, merchant_id)
    program, _ = await referral_program(session, merchant_id)
    if order.subtotal < program.min_order_amount:
        return Completion.BELOW_MINIMUM
    links = await ReferralsRepository(session, merchant_id).get_by_ids([referral.link_id])
    if links and _expired(links[0].created_at, program, order.placed_at):
        await referrals.set_status(referral.id, ReferralStatus.EXPIRED)
        return Completion.EXPIRED
    completed = await referrals.complete(referral.id, order.order_id, order.subtotal, now)
    assert completed is not None, "the referral is locked by this transaction"
    advocate_count = await referrals.completed_count(referral.advocate_customer_id)
    held = Decimal(referral.fraud_score) >= program.fraud_threshold
    status = ReferralRewardStatus.HELD if held else ReferralRewardStatus.PENDING
    await ReferralRewardRepository(session, merchant_id).insert_rewards(
        [
            _reward(referral.id, FRIEND, program.friend_reward, None, status, now),
            _reward(
                referral.id,
                ADVOCATE,
                program.advocate_reward,
                program.advocate_points(advocate_count),
                status,
                now + timedelta(hours=program.hold_hours),
            ),
        ]
    )
    trail = AuditTrail(session, merchant_id)
    await trail.record(
        AuditAction.REFERRAL_COMPLETED,
        {
            "referral_id": referral.id,
            "order_id": order.order_id,
            "advocate_completed_referrals": advocate_count,
        },
    )
    if held:
        await trail.record(
            AuditAction.SPOOF_DETECTED,
            {
                "referral_id": referral.id,
                "fraud_score": str(referral.fraud_score),
                "reasons": referral.fraud_reasons,
            },
        )
        return Completion.HELD
    return Completion.COMPLETED


def _expired(link_created_at: datetime, program: ReferralProgramConfig, at: datetime) -> bool:
    if program.link_expiry_days is None:
        return False
    return at > link_created_at + timedelta(days=program.link_expiry_days)


def _reward(
    referral_id: str,
    side: str,
    spec: RewardSpec,
    points: int | None,
    status: ReferralRewardStatus,
    release_at: datetime,
) -> dict[str, object]:
    return {
        "id": new_id(),
        "referral_id": referral_id,
        "side": side,
        "kind": spec.kind.value,
        "points": points if points is not None else spec.points,
        "value": spec.value,
        "status": status.value,
        "release_at": release_at,
    }


async def refund_qualifying_order(
    session: AsyncSession, merchant_id: str, order_id: str, amount: Decimal
) -> list[ReferralReward]:
    """A refund of ``amount`` (shop currency) on an order: if it is a referral's qualifying
    order and what is left of it falls below the program's minimum, the advocate's reward
    is cancelled as for a cancelled order (a small partial refund leaves it standing)."""
    referrals = ConversionRepository(session, merchant_id)
    referral = await referrals.by_qualifying_order(order_id, for_update=True)
    if referral is None or amount <= 0:
        return []
    refunded = await referrals.add_refund(referral.id, amount)
    assert refunded is not None, "the referral is locked by this transaction"
    program, _ = await referral_program(session, merchant_id)
    left = (refunded.qualifying_subtotal or Decimal(0)) - refunded.refunded_amount
    if left > 0 and left >= program.min_order_amount:
        return []
    return await cancel_for_order(session, merchant_id, order_id, reason="refunded")


async def cancel_for_order(
    session: AsyncSession, merchant_id: str, order_id: str, *, reason: str
) -> list[ReferralReward]:
    """The qualifying order was cancelled (or refunded below the minimum): the advocate's
    reward, if not released yet (pending or held), is cancelled. The friend's reward stands
    (it paid for an order the friend really placed, and was released at once)."""
    referral = await ConversionRepository(session, merchant_id).by_qualifying_order(order_id)
    if referral is None:
        return []
    cancelled = await ReferralRewardRepository(session, merchant_id).move(
        referral.id,
        ADVOCATE,
        (ReferralRewardStatus.PENDING, ReferralRewardStatus.HELD),
        ReferralRewardStatus.CANCELLED,
    )
    if cancelled:
        await AuditTrail(session, merchant_id).record(
            AuditAction.REFERRAL_REWARD_CANCELLED,
            {"referral_id": referral.id, "order_id": order_id, "reason": reason},
        )
    return cancelled


async def review(write: WriteContext, referral_id: str, decision: Decision) -> list[ReferralReward]:
    """Staff decide on a held referral: approving releases its rewards (each at its own
    release time), rejecting cancels them and rejects the referral."""
    referrals = ConversionRepository(write.session, write.merchant_id)
    referral = await referrals.by_id(referral_id, for_update=True)
    if referral is None:
        raise ReferralError(
            ReferralErrorCode.REFERRAL_NOT_FOUND, "id", "the shop has no such referral"
        )
    target = (
        ReferralRewardStatus.PENDING
        if decision is Decision.APPROVE
        else ReferralRewardStatus.CANCELLED
    )
    moved = await ReferralRewardRepository(write.session, write.merchant_id).move(
        referral_id, None, (ReferralRewardStatus.HELD,), target
    )
    if not moved:
        raise ReferralError(
            ReferralErrorCode.NOT_HELD, "id", "the referral has no rewards waiting for review"
        )
    if decision is Decision.REJECT:
        await referrals.set_status(referral_id, ReferralStatus.REJECTED)
    await write.audit.record(
        AuditAction.REFERRAL_REVIEWED, {"referral_id": referral_id, "decision": decision.value}
    )
    return moved
