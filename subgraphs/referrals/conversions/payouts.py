"""The rewards of completed referrals, as the worker pays them (``worker/referrals/jobs.py``):
the due ones taken under row locks, each marked issued in the transaction that credits it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ReferralReward
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.repository import AuditTrail
from subgraphs.referrals.conversions.repository import (
    ConversionRepository,
    ReferralRewardRepository,
)
from subgraphs.referrals.conversions.service import ADVOCATE


@dataclass(frozen=True, slots=True)
class DueReward:
    reward: ReferralReward
    customer_id: str  # who receives it
    idempotency_key: str  # the ledger key: referral:{referral_id}:{side}
    reason: str


async def take_due_rewards(
    session: AsyncSession, merchant_id: str, *, now: datetime, limit: int = 100
) -> list[DueReward]:
    """Rewards to pay now, locked until the caller's transaction ends (the caller credits each
    and calls ``mark_issued`` in the same transaction: paid and marked, or neither)."""
    rewards = await ReferralRewardRepository(session, merchant_id).due(now, limit)
    referrals = ConversionRepository(session, merchant_id)
    due = []
    for reward in rewards:
        referral = await referrals.by_id(reward.referral_id)
        assert referral is not None, "rewards go with their referral"
        customer_id = (
            referral.advocate_customer_id
            if reward.side == ADVOCATE
            else referral.friend_customer_id
        )
        reason = (
            "referral: your friend's first order"
            if reward.side == ADVOCATE
            else ("referral: welcome, friend")
        )
        due.append(DueReward(reward, customer_id, f"referral:{referral.id}:{reward.side}", reason))
    return due


async def mark_issued(
    session: AsyncSession, merchant_id: str, due: DueReward, *, now: datetime
) -> None:
    await ReferralRewardRepository(session, merchant_id).mark_issued(due.reward.id, now)
    await AuditTrail(session, merchant_id).record(
        AuditAction.REFERRAL_REWARD_ISSUED,
        {
            "referral_id": due.reward.referral_id,
            "side": due.reward.side,
            "kind": due.reward.kind,
            "points": due.reward.points,
        },
    )
