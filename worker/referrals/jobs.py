"""Paying referral rewards, and telling merchants of held ones.

Paying: the worker is where the referrals program meets the points ledger
(subgraphs never import each other). Every minute, each merchant's due rewards are taken
under row locks, credited to the ledger under ``referral:{referral_id}:{side}`` and marked
issued, in one transaction: a crash leaves a reward unpaid and pending (paid by the next run),
never paid twice, and two workers skip each other's rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from db.encryption_contexts import REFERRAL_REWARDS_DISCOUNT_CODE
from db.models import ReferralRewardStatus
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.events import ledger_changed
from subgraphs.kit.integrations.alerts import AlertDeliveryError, SlackAlerter
from subgraphs.kit.integrations.shopify_operations import DiscountCodeSpec, DiscountKind
from subgraphs.kit.jobs import Cron, job, job_resources
from subgraphs.kit.resources import Resources
from subgraphs.kit.settings import Settings
from subgraphs.points.customers.service import customer_by_id
from subgraphs.points.ledger.service import PointsChange, credit_referral
from subgraphs.points.orders.repository import shop_connection
from subgraphs.points.rewards.discounts import DiscountNotIssuedError, discount_issuer
from subgraphs.points.shopify import ShopifyConnector
from subgraphs.referrals.conversions.payouts import (
    DueReward,
    IssuedDiscountCode,
    discount_code,
    discount_title,
    mark_failed,
    mark_issued,
    take_due_rewards,
)
from subgraphs.referrals.conversions.reads import held_referrals
from subgraphs.referrals.conversions.repository import (
    merchants_with_due_rewards,
    merchants_with_held_rewards,
)
from subgraphs.referrals.program.service import RewardKind, alert_webhook
from subgraphs.referrals.shares.service import SEND_REFERRAL_SHARE
from worker.referrals.shares import requeue_overdue_shares, send_share_and_reschedule

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PaidRewards:
    merchants: int = 0
    rewards: int = 0
    points: int = 0


async def pay_due_referral_rewards(
    resources: Resources,
    *,
    now: datetime | None = None,
    batch: int = 100,
    shopify: ShopifyConnector | None = None,
) -> PaidRewards:
    """Pay every due reward of every merchant: points into the ledger, discounts as codes
    created through the shop's Admin API (``shopify``: its throttling and circuit breaker)."""
    now = now or datetime.now(UTC)
    shopify = shopify or ShopifyConnector.for_process(resources)
    async with system_unit_of_work(resources.sessions) as session:
        merchant_ids = await merchants_with_due_rewards(session, now)
    rewards = points = 0
    for merchant_id in merchant_ids:
        paid = await _pay_merchant(resources, shopify, merchant_id, now=now, batch=batch)
        rewards += len(paid)
        points += sum(paid)
        if paid:
            await ledger_changed(resources, merchant_id, reason="referral rewards")
    return PaidRewards(merchants=len(merchant_ids), rewards=rewards, points=points)


async def _pay_merchant(
    resources: Resources,
    shopify: ShopifyConnector,
    merchant_id: str,
    *,
    now: datetime,
    batch: int,
) -> list[int]:
    """Points paid per reward issued (0 for a discount)."""
    paid: list[int] = []
    while True:
        before = len(paid)
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            due = await take_due_rewards(session, merchant_id, now=now, limit=batch)
            discounts = [item for item in due if item.reward.kind != RewardKind.POINTS.value]
            for item in due:
                reward = item.reward
                assert reward.status == ReferralRewardStatus.PENDING.value
                if reward.kind != RewardKind.POINTS.value or reward.points is None:
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
            if discounts:
                issued = await _issue_discounts(
                    session, resources, shopify, merchant_id, discounts, now=now
                )
                paid.extend([0] * issued)
        # A full batch may hide more; a batch that paid nothing would only come back again.
        if len(due) < batch or len(paid) == before:
            return paid


async def _issue_discounts(
    session: AsyncSession,
    resources: Resources,
    shopify: ShopifyConnector,
    merchant_id: str,
    due: list[DueReward],
    *,
    now: datetime,
) -> int:
    """Create each reward's single-use code for its customer, in the transaction that holds
    the reward's lock: issued and marked together. The code is the same on every try
    (``discount_code``), so a create whose commit was lost is found again, never made twice.
    A Shopify that cannot be reached leaves the reward pending for the next run; one that
    refuses the discount fails it with the reason."""
    connection = await shop_connection(session, merchant_id)
    issued = 0
    async with discount_issuer(shopify, merchant_id, connection, resources.cipher) as issuer:
        for item in due:
            reward = item.reward
            code = discount_code(resources.cipher, item.idempotency_key)
            customer = await customer_by_id(session, merchant_id, item.customer_id)
            spec = DiscountCodeSpec(
                code=code,
                title=discount_title(item),
                kind=_DISCOUNT_KINDS[RewardKind(reward.kind)],
                starts_at=now,
                value=reward.value,
                shopify_customer_id=None if customer is None else customer.shopify_customer_id,
            )
            try:
                discount = await issuer.issue(spec)
            except DiscountNotIssuedError as error:
                log.warning(
                    "referral_discount_not_issued",
                    reward_id=reward.id,
                    retryable=error.retryable,
                    error=str(error),
                )
                if error.retryable:
                    continue
                await mark_failed(session, merchant_id, item, str(error))
                continue
            await mark_issued(
                session,
                merchant_id,
                item,
                now=now,
                discount=IssuedDiscountCode(
                    code_encrypted=resources.cipher.encrypt(
                        code, context=REFERRAL_REWARDS_DISCOUNT_CODE
                    ),
                    discount_id=discount.discount_id,
                ),
            )
            issued += 1
    return issued


_DISCOUNT_KINDS = {
    RewardKind.PERCENTAGE: DiscountKind.PERCENTAGE,
    RewardKind.FIXED_AMOUNT: DiscountKind.FIXED_AMOUNT,
    RewardKind.FREE_SHIPPING: DiscountKind.FREE_SHIPPING,
}


def _payout_schedule(settings: Settings) -> Cron:
    every = settings.referral_payout_every_seconds
    return Cron(second=frozenset(range(0, 60, every)))


@job(timeout=600, cron=_payout_schedule)
async def pay_due_referral_rewards_job(ctx: dict[str, Any]) -> dict[str, int]:
    """Every minute (or as often as the settings say): pay the referral rewards that are due
    (a friend's as soon as it is released, an advocate's once the hold period is over)."""
    resources = job_resources(ctx)
    shopify = ShopifyConnector.for_process(resources, ctx.get("http"))
    report = await pay_due_referral_rewards(resources, shopify=shopify)
    if report.rewards:
        log.info("referral_rewards_paid", merchants=report.merchants, rewards=report.rewards)
    return {"merchants": report.merchants, "rewards": report.rewards, "points": report.points}


# A merchant hears of held referrals at most this often (the alert says how many are new).
ALERT_WINDOW = timedelta(hours=1)


def _alert_keys(merchant_id: str) -> tuple[str, str]:
    """(the window's lock, the time of the last alert) in Redis."""
    return f"referrals:held-alert:{merchant_id}:lock", f"referrals:held-alert:{merchant_id}:last"


async def alert_held_referrals(
    resources: Resources,
    http: httpx.AsyncClient,
    *,
    now: datetime | None = None,
    window: timedelta = ALERT_WINDOW,
) -> int:
    """Tell each merchant with newly held referrals, on their Slack, at most once per
    ``window``: a held referral waits for a decision (``referralReview``) that someone must
    take. Returns the alerts sent. Redis decides who sends (one worker per window); a failed
    send gives the window back, so the next run tries again."""
    now = now or datetime.now(UTC)
    async with system_unit_of_work(resources.sessions) as session:
        merchant_ids = await merchants_with_held_rewards(session)
    sent = 0
    for merchant_id in merchant_ids:
        lock, last = _alert_keys(merchant_id)
        try:
            window_ms = int(window.total_seconds() * 1000)
            if not await resources.redis.set(lock, "1", nx=True, px=window_ms):
                continue
            previous = await resources.redis.get(last)
        except RedisError as error:
            log.warning("referral_alert_skipped", merchant_id=merchant_id, error=str(error))
            return sent
        since = None if previous is None else datetime.fromisoformat(previous.decode())
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            url = await alert_webhook(session, merchant_id, resources.cipher)
            fresh = await held_referrals(session, merchant_id, since=since)
            waiting = await held_referrals(session, merchant_id)
        if url is None or fresh == 0:
            await resources.redis.delete(lock)  # nothing to say: the next one may say it
            continue
        text = (
            f"LoyalNest: {fresh} new referral(s) look suspicious and wait for your review "
            f"({waiting} in all). Their rewards are held until you approve or reject them."
        )
        try:
            await SlackAlerter(http, url).send(text)
        except AlertDeliveryError as error:
            await resources.redis.delete(lock)
            log.warning("referral_alert_failed", merchant_id=merchant_id, error=str(error))
            continue
        await resources.redis.set(last, now.isoformat())
        sent += 1
    return sent


@job(timeout=120, cron=Cron())
async def alert_held_referrals_job(ctx: dict[str, Any]) -> int:
    """Every minute: tell merchants of referrals held for review (once an hour at most)."""
    http: httpx.AsyncClient = ctx["http"]
    return await alert_held_referrals(job_resources(ctx), http)


@job(timeout=180)
async def send_referral_share(ctx: dict[str, Any], merchant_id: str, share_id: str) -> str:
    """Send one referral share (queued by referralShare); a later try is queued if needed."""
    http: httpx.AsyncClient = ctx["http"]
    attempt = await send_share_and_reschedule(job_resources(ctx), http, merchant_id, share_id)
    return attempt.outcome.value


@job(timeout=120, cron=Cron())
async def requeue_overdue_referral_shares(ctx: dict[str, Any]) -> int:
    """Every minute: queue again the shares a lost enqueue or a crashed worker left behind."""
    return len(await requeue_overdue_shares(job_resources(ctx)))


assert send_referral_share.__name__ == SEND_REFERRAL_SHARE, "arq names jobs by function"
