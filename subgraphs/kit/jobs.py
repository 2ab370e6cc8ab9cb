"""Background jobs: how a job declares itself and its schedule, how work is put on the queue
(arq on Redis) from any process, and the one loop that walks every merchant.

The queue only says "look at this soon". Whatever a job acts on is first committed to
Postgres, and a sweeper re-enqueues what a lost message or a crash left behind, so a failed
enqueue (Redis down) delays work and never loses it.

A job is an ``async def job(ctx)`` in some domain's ``jobs.py``, decorated with :func:`job`
(its timeout, its schedule beside it). The worker finds every such module and registers what
it declares: adding a job never means editing a central list.
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog
from arq.connections import ArqRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.session import system_unit_of_work
from subgraphs.kit.redis_calls import RedisCalls, RedisUnavailable
from subgraphs.kit.resources import Resources
from subgraphs.kit.settings import Settings

log = structlog.get_logger(__name__)

PROCESS_WEBHOOK_DELIVERY = "process_webhook_delivery"
# The worker's job that sends a merchant's event notifications and pushes their changed Klaviyo
# profiles (``worker/notifications/jobs.py``).
SEND_NOTIFICATION_FLOWS = "send_notification_flows"
# A nudge waits this long, so a burst of writes (an order's webhooks) makes one run.
FLOWS_NUDGE_DELAY = 1.0


def delivery_job_id(delivery_id: str) -> str:
    """The job id of an inbox row's processing; a retry or an admin's re-run adds its own
    suffix."""
    return f"webhook:{delivery_id}"


def job_queue(redis: Redis) -> ArqRedis:
    """An arq handle sharing the process's Redis connection pool."""
    return ArqRedis(connection_pool=redis.connection_pool)


async def enqueue_webhook_delivery(
    queue: ArqRedis,
    merchant_id: str,
    delivery_id: str,
    *,
    job_id: str | None = None,
    defer_seconds: float | None = None,
) -> bool:
    """Ask the worker to process an inbox row; False (and a warning) when Redis is away."""
    try:
        await queue.enqueue_job(
            PROCESS_WEBHOOK_DELIVERY,
            merchant_id,
            delivery_id,
            _job_id=job_id,
            _defer_by=defer_seconds,
        )
    except (RedisError, OSError) as exc:
        log.warning("enqueue_failed", delivery_id=delivery_id, error=str(exc))
        return False
    return True


def notification_flows_job_id(merchant_id: str) -> str:
    """One queued (or running) flows job per merchant: arq refuses a second with the same id,
    and the one waiting reads every event committed before it starts."""
    return f"notification-flows:{merchant_id}"


async def nudge_notification_flows(
    redis: Redis, merchant_id: str, *, calls: RedisCalls | None = None
) -> bool:
    """Ask the worker to run the merchant's notification flows soon (after a commit that may
    have made an event); False when Redis is away: the flows' minutely sweep runs them.
    ``calls``: the process's bounds on Redis, so a hung Redis never slows a write's reply."""

    async def enqueue() -> object:
        return await job_queue(redis).enqueue_job(
            SEND_NOTIFICATION_FLOWS,
            merchant_id,
            _job_id=notification_flows_job_id(merchant_id),
            _defer_by=FLOWS_NUDGE_DELAY,
        )

    try:
        await (enqueue() if calls is None else calls.run("flows_nudge", enqueue))
    except (RedisError, OSError, RedisUnavailable) as exc:
        log.warning("flows_nudge_failed", merchant_id=merchant_id, error=str(exc))
        return False
    return True


# --- declaring jobs --------------------------------------------------------------------------

# ``ctx`` first, then the job's own arguments (arq passes them through).
JobFunction = Callable[..., Awaitable[Any]]
JobT = TypeVar("JobT", bound=JobFunction)
JOB_ATTRIBUTE = "__loyalnest_job__"


@dataclass(frozen=True, slots=True)
class Cron:
    """When the worker runs a job by itself (arq's cron fields; ``None`` is "every")."""

    hour: frozenset[int] | None = None
    minute: frozenset[int] | None = None
    second: frozenset[int] = frozenset({0})
    run_at_startup: bool = False


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What the worker needs to register one job. ``timeout`` and ``cron`` may depend on the
    settings (e.g. the sweep interval), so each may be a function of them."""

    function: JobFunction
    timeout: float | Callable[[Settings], float] | None = None
    keep_result: float | None = None
    cron: Cron | Callable[[Settings], Cron | None] | None = None
    # False: the job may run as many at once as arq takes (it holds no connection of its own
    # while it waits; a webhook delivery waits for its batch). Every other job shares a few
    # slots (worker/settings.py), as when arq itself ran 10 jobs at once.
    shares_slots: bool = True

    @property
    def name(self) -> str:
        return self.function.__name__

    def timeout_for(self, settings: Settings) -> float | None:
        return self.timeout(settings) if callable(self.timeout) else self.timeout

    def cron_for(self, settings: Settings) -> Cron | None:
        return self.cron(settings) if callable(self.cron) else self.cron


def job(
    *,
    timeout: float | Callable[[Settings], float] | None = None,
    keep_result: float | None = None,
    cron: Cron | Callable[[Settings], Cron | None] | None = None,
    shares_slots: bool = True,
) -> Callable[[JobT], JobT]:
    """Declare a worker job; ``cron`` makes the worker also run it on that schedule."""

    def declare(function: JobT) -> JobT:
        spec = JobSpec(function, timeout, keep_result, cron, shares_slots)
        setattr(function, JOB_ATTRIBUTE, spec)
        return function

    return declare


def declared_jobs(module: types.ModuleType) -> list[JobSpec]:
    """The jobs a module declares with :func:`job`, in the order they are defined."""
    found = (getattr(value, JOB_ATTRIBUTE, None) for value in vars(module).values())
    return [spec for spec in found if isinstance(spec, JobSpec)]


def job_resources(ctx: dict[str, Any]) -> Resources:
    """The process's resources, which the worker puts in every job's context at startup."""
    resources = ctx.get("resources")
    if not isinstance(resources, Resources):
        raise RuntimeError("the worker context has no 'resources': see worker/settings.py")
    return resources


def sweep_schedule(settings: Settings) -> Cron:
    """The cadence of the sweepers that re-enqueue work a lost message left behind: the
    inbox sweeper's (at most once a minute)."""
    every = min(max(settings.inbox_sweep_every_seconds, 1), 60)
    return Cron(second=frozenset(range(0, 60, every)), run_at_startup=True)


def gdpr_sweep_schedule(settings: Settings) -> Cron | None:
    """The sweepers' cadence for GDPR work (exports, provider profile deletions); None when
    ``LOYALNEST_GDPR_SWEEPS`` turns them off."""
    return sweep_schedule(settings) if settings.gdpr_sweeps else None


# --- every merchant, one at a time ------------------------------------------------------------

ItemT = TypeVar("ItemT")
MERCHANT_PAGE = 200


@dataclass
class MerchantSweep(Generic[ItemT]):
    """What a walk over the merchants did: who was handled, and who failed (and was logged)."""

    handled: list[ItemT] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


async def for_each_merchant(
    sessions: async_sessionmaker[AsyncSession],
    *,
    page: Callable[[AsyncSession, str | None, int], Awaitable[Sequence[ItemT]]],
    merchant_id: Callable[[ItemT], str],
    work: Callable[[ItemT], Awaitable[None]],
    failure_event: str,
    page_size: int = MERCHANT_PAGE,
) -> MerchantSweep[ItemT]:
    """Run ``work`` for every merchant ``page`` lists (keyset pages of ``page_size``, read in
    their own short system transactions), one merchant at a time.

    A merchant whose work raises is logged under ``failure_event`` and listed in ``failed``:
    one merchant's broken data must not stop every merchant after it. ``work`` opens its own
    units of work, so what one merchant committed stays committed whatever the next does.
    """
    sweep: MerchantSweep[ItemT] = MerchantSweep()
    after: str | None = None
    while True:
        async with system_unit_of_work(sessions) as session:
            items = await page(session, after, page_size)
        for item in items:
            try:
                await work(item)
            except Exception:
                log.exception(failure_event, merchant_id=merchant_id(item))
                sweep.failed.append(merchant_id(item))
            else:
                sweep.handled.append(item)
        if len(items) < page_size:
            return sweep
        after = merchant_id(items[-1])
