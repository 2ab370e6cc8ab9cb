"""The Shopify backfill's rules: when a run starts, who may run it again, and how a run
moves through its steps. Framework-free; never commits (the caller's unit of work does, and
only then is the job enqueued, so the job always finds what it was enqueued for).

A run is queued at install (unless the shop completed one before: a reinstall keeps what it
imported) and by the merchant's ``shopifyBackfillStart``; the worker's
``run_shopify_backfill_job`` carries it out step by step (``db.models.BackfillStep``), and
its sweeper queues again a run whose job was lost.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import BackfillStatus, ShopifyBackfill
from subgraphs.admin.backfill.repository import ACTIVE, BackfillRepository
from subgraphs.admin.merchants.repository import MerchantsRepository
from subgraphs.kit.domain import DomainError
from subgraphs.kit.jobs import job_queue

log = structlog.get_logger(__name__)

# The worker's job (arq names jobs by function): worker/shopify_backfill/jobs.py.
RUN_SHOPIFY_BACKFILL = "run_shopify_backfill_job"
ORDER_HISTORY = timedelta(days=730)
MAX_REASON_LENGTH = 500


def backfill_channel(merchant_id: str) -> str:
    """One merchant's backfill: a run was queued, moved on a step or a batch, or ended
    (published after the commit; ``shopifyBackfillProgress`` reads the row again)."""
    return f"loyalnest:shopify-backfill:{merchant_id}"


def backfill_job_id(merchant_id: str) -> str:
    """One job per shop at a time: arq refuses a second with the same id while one waits."""
    return f"shopify-backfill:{merchant_id}"


class BackfillErrorCode(enum.StrEnum):
    ALREADY_RUNNING = enum.auto()
    SHOP_NOT_CONNECTED = enum.auto()
    REASON_TOO_LONG = enum.auto()


class BackfillError(DomainError):
    code: BackfillErrorCode


@dataclass(frozen=True, slots=True)
class ShopConnection:
    """What the job needs to call the shop's Admin API."""

    shop_domain: str
    api_token_encrypted: str


async def shop_connection(session: AsyncSession, merchant_id: str) -> ShopConnection | None:
    """The shop's Admin API access; None once it uninstalled (the token goes with it) or for a
    shop never installed through OAuth."""
    merchant = await MerchantsRepository(session).merchant_by_id(merchant_id)
    if merchant is None or merchant.uninstalled_at is not None:
        return None
    if not merchant.api_token_encrypted:
        return None
    return ShopConnection(merchant.shop_domain, merchant.api_token_encrypted)


async def backfill_of(session: AsyncSession, merchant_id: str) -> ShopifyBackfill | None:
    return await BackfillRepository(session, merchant_id).current()


async def queue_at_install(
    session: AsyncSession, merchant_id: str, *, now: datetime
) -> ShopifyBackfill | None:
    """The OAuth callback's run: a new shop's first, or the one an uninstall cut short. None
    when the shop completed one already, or has one under way."""
    repository = BackfillRepository(session, merchant_id)
    current = await repository.for_update()
    if current is not None and (
        current.status == BackfillStatus.COMPLETED.value or current.status in ACTIVE
    ):
        return None
    return await repository.queue(orders_since=now - ORDER_HISTORY, now=now)


async def start_again(
    session: AsyncSession, merchant_id: str, *, now: datetime, reason: str | None = None
) -> ShopifyBackfill:
    """The merchant runs it again (``shopifyBackfillStart``): from the first step, with two
    years of orders back from now. Rows already imported are upserted, never doubled."""
    if reason is not None and len(reason) > MAX_REASON_LENGTH:
        raise BackfillError(
            BackfillErrorCode.REASON_TOO_LONG,
            "reason",
            f"a reason has at most {MAX_REASON_LENGTH} characters",
        )
    if await shop_connection(session, merchant_id) is None:
        raise BackfillError(
            BackfillErrorCode.SHOP_NOT_CONNECTED,
            "",
            "the shop has no Admin API access: install LoyalNest through Shopify first",
        )
    repository = BackfillRepository(session, merchant_id)
    current = await repository.for_update()
    if current is not None and current.status in ACTIVE:
        raise BackfillError(
            BackfillErrorCode.ALREADY_RUNNING,
            "",
            "a backfill is under way; run it again once it has finished",
        )
    run = await repository.queue(orders_since=now - ORDER_HISTORY, now=now)
    log.info("shopify_backfill_restarted", merchant_id=merchant_id, run=run.run, reason=reason)
    return run


async def enqueue_backfill(
    redis: Redis, merchant_id: str, *, defer_seconds: float | None = None
) -> bool:
    """Ask the worker to carry the run on (after the commit that queued it); False when Redis
    is away: the sweeper queues it within minutes."""
    try:
        await job_queue(redis).enqueue_job(
            RUN_SHOPIFY_BACKFILL,
            merchant_id,
            _job_id=backfill_job_id(merchant_id),
            _defer_by=defer_seconds,
        )
    except (RedisError, OSError) as error:
        log.warning("shopify_backfill_enqueue_failed", merchant_id=merchant_id, error=str(error))
        return False
    return True
