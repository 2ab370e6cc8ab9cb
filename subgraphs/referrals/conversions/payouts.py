"""The rewards of completed referrals, as the worker pays them (``worker/referrals/jobs.py``):
the due ones taken under row locks, each marked issued in the transaction that credits it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import REFERRAL_REWARDS_DISCOUNT_CODE
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
    session: AsyncSession,
    merchant_id: str,
    due: DueReward,
    *,
    now: datetime,
    discount: IssuedDiscountCode | None = None,
) -> None:
    await ReferralRewardRepository(session, merchant_id).mark_issued(
        due.reward.id,
        now,
        discount_code_encrypted=None if discount is None else discount.code_encrypted,
        discount_id=None if discount is None else discount.discount_id,
    )
    # Whom it went to, and a discount's code (encrypted as on the reward): what the
    # REFERRAL_COMPLETED notification tells the advocate of a discount reward, read from this
    # entry (the points subgraph's flows cannot read referral rewards).
    await AuditTrail(session, merchant_id).record(
        AuditAction.REFERRAL_REWARD_ISSUED,
        {
            "referral_id": due.reward.referral_id,
            "customer_id": due.customer_id,
            "side": due.reward.side,
            "kind": due.reward.kind,
            "points": due.reward.points,
            "discount_id": None if discount is None else discount.discount_id,
            "discount_code_encrypted": None if discount is None else discount.code_encrypted,
        },
    )


async def mark_failed(session: AsyncSession, merchant_id: str, due: DueReward, error: str) -> None:
    """Shopify refused the reward's discount: it is not tried again (staff see the reason)."""
    await ReferralRewardRepository(session, merchant_id).mark_failed(due.reward.id, error[:500])


# Referral discount codes: "LNR-" and 12 symbols without 0/O or 1/I, typed at checkout.
DISCOUNT_CODE_PREFIX = "LNR-"
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 12


def discount_code(cipher: FieldCipher, idempotency_key: str) -> str:
    """The reward's code, drawn from a keyed hash of its key (``referral:{id}:{side}``): the
    same on every try, so a create whose answer was lost finds its own code taken at Shopify
    and the reward is issued once; unguessable without the app's blind-index key."""
    digest = int(cipher.blind_index(idempotency_key, context=REFERRAL_REWARDS_DISCOUNT_CODE), 16)
    symbols = []
    for _ in range(_CODE_LENGTH):
        digest, index = divmod(digest, len(_CODE_ALPHABET))
        symbols.append(_CODE_ALPHABET[index])
    return DISCOUNT_CODE_PREFIX + "".join(symbols)


@dataclass(frozen=True, slots=True)
class IssuedDiscountCode:
    code_encrypted: str
    discount_id: str | None  # None: a sandbox code (a shop without a Shopify connection)


def discount_title(due: DueReward) -> str:
    return "Referral reward" if due.reward.side == ADVOCATE else "Referral welcome gift"


def reward_discount_code(row: ReferralReward, cipher: FieldCipher) -> str | None:
    if row.discount_code_encrypted is None:
        return None
    return cipher.decrypt(row.discount_code_encrypted, context=REFERRAL_REWARDS_DISCOUNT_CODE)
