"""Paying referral rewards: the worker is where the referrals program meets the points ledger
(subgraphs never import each other). Every minute, each merchant's due rewards are taken
under row locks, credited to the ledger under ``referral:{referral_id}:{side}`` and marked
issued, in one transaction: a crash leaves a reward unpaid and pending (paid by the next run),
never paid twice, and two workers skip each other's rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from db.models import ReferralRewardStatus
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.events import ledger_changed
from subgraphs.kit.jobs import Cron, job, job_resources
from subgraphs.kit.resources import Resources
from subgraphs.points.ledger.service import PointsChange, credit_referral
from subgraphs.referrals.conversions.repository import merchants_with_due_rewards
from subgraphs.referrals.conversions.service import mark_issued, take_due_rewards
from subgraphs.referrals.program.service import RewardKind

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PaidRewards:
    merchants: int = 0
    rewards: int = 0
    points: int = 0


async def pay_due_referral_rewards(
    resources: Resources, *, now: datetime | None = None, batch: int = 100
) -> PaidRewards:
    """Credit every due points reward of every merchant."""
    now = now or datetime.now(UTC)
    async with system_unit_of_work(resources.sessions) as session:
        merchant_ids = await merchants_with_due_rewards(session, now)
    rewards = points = 0
    for merchant_id in merchant_ids:
        paid = await _pay_merchant(resources, merchant_id, now=now, batch=batch)
        rewards += len(paid)
        points += sum(paid)
        if paid:
            await ledger_changed(resources, merchant_id, reason="referral rewards")
    return PaidRewards(merchants=len(merchant_ids), rewards=rewards, points=points)


async def _pay_merchant(
    resources: Resources, merchant_id: str, *, now: datetime, batch: int
) -> list[int]:
    paid: list[int] = []
    while True:
        before = len(paid)
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            due = await take_due_rewards(session, merchant_id, now=now, limit=batch)
            for item in due:
                reward = item.reward
                assert reward.status == ReferralRewardStatus.PENDING.value
                if reward.kind != RewardKind.POINTS.value or reward.points is None:
                    # Discount rewards are not issued by this slice (the program refuses them).
                    log.warning("referral_reward_kind_unpaid", reward_id=reward.id)
                    continue
                await credit_referral(
                    session,
                    merchant_id,
                    PointsChange(
                        item.customer_id, reward.points, item.reason, item.idempotency_key
                    ),
                    now=now,
                )
                await mark_issued(session, merchant_id, item, now=now)
                paid.append(reward.points)
        # A full batch may hide more; a batch that paid nothing would only come back again.
        if len(due) < batch or len(paid) == before:
            return paid


@job(timeout=600, cron=Cron())
async def pay_due_referral_rewards_job(ctx: dict[str, Any]) -> dict[str, int]:
    """Every minute: pay the referral rewards whose hold period is over."""
    report = await pay_due_referral_rewards(job_resources(ctx))
    if report.rewards:
        log.info("referral_rewards_paid", merchants=report.merchants, rewards=report.rewards)
    return {"merchants": report.merchants, "rewards": report.rewards, "points": report.points}
