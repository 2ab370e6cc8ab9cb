"""arq worker settings: every domain's background jobs, on Redis."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import httpx
from arq import cron, func
from arq.connections import RedisSettings

from db.session import create_engine, create_session_factory
from gateway.webhooks.processing import (
    forget_old_receipts_job,
    process_webhook_delivery,
    sweep_webhook_inbox,
)
from subgraphs.admin.jobs import maintain_log_partitions_job
from subgraphs.kit.observability import configure_logging
from subgraphs.kit.resources import open_resources
from subgraphs.kit.settings import Settings, get_settings
from subgraphs.points.jobs import (
    expire_points,
    queue_expiry_reminders,
    recalculate_tiers_job,
    reconcile_orders_job,
    resolve_stale_redemptions_job,
)


async def _startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    assert settings.database_url, "the CLI resolves DATABASE_URL before starting the worker"
    ctx["engine"] = create_engine(settings.database_url, pool_size=2)
    ctx["sessions"] = create_session_factory(ctx["engine"])
    # Ledger jobs publish changes (cache, pub/sub) and reminders call Klaviyo / Postscript.
    stack = AsyncExitStack()
    ctx["exit_stack"] = stack
    ctx["resources"] = await stack.enter_async_context(open_resources(settings))
    ctx["http"] = await stack.enter_async_context(httpx.AsyncClient(timeout=10.0))


async def _shutdown(ctx: dict[str, Any]) -> None:
    await ctx["exit_stack"].aclose()
    await ctx["engine"].dispose()


def worker_settings(settings: Settings) -> dict[str, Any]:
    redis_url = settings.redis_url
    assert redis_url, "the CLI resolves REDIS_URL before starting the worker"
    configure_logging(settings.log_level)
    sweep_every = min(max(settings.inbox_sweep_every_seconds, 1), 60)
    return {
        "functions": [
            # A delivery is a few statements: a job still running after the timeout is stuck
            # (or its worker died), and arq runs it again. No result is kept, so the
            # sweeper can enqueue the delivery's job id again as soon as it has finished.
            func(
                process_webhook_delivery,
                timeout=settings.webhook_job_timeout_seconds,
                keep_result=0,
            ),
            sweep_webhook_inbox,
            forget_old_receipts_job,
            maintain_log_partitions_job,
            expire_points,
            queue_expiry_reminders,
            resolve_stale_redemptions_job,
            recalculate_tiers_job,
            reconcile_orders_job,
        ],
        "cron_jobs": [
            # Deliveries whose job was lost (Redis down at the shim, a killed worker).
            cron(
                sweep_webhook_inbox,
                second=set(range(0, 60, sweep_every)),
                run_at_startup=True,
                unique=True,
            ),
            cron(forget_old_receipts_job, hour={3}, minute={41}),
            # Hourly: orders no webhook delivered (Shopify gives up after 48 hours of retries).
            cron(reconcile_orders_job, minute={37}, timeout=3600),
            cron(maintain_log_partitions_job, hour={3}, minute={17}, run_at_startup=True),
            # Hourly: points expire close to their date, and a failed run is retried soon.
            # Walking every merchant can outlast arq's 5-minute default timeout.
            cron(expire_points, minute={7}, timeout=3600),
            # Daily at 15:00 UTC: daytime in the Americas and Europe, when it gets read.
            cron(queue_expiry_reminders, hour={15}, minute={0}, timeout=3600),
            # Pending redemptions are settled within minutes of a crash.
            cron(resolve_stale_redemptions_job, minute=set(range(0, 60, 5)), timeout=600),
            # Nightly: tiers follow RFM scores, which change outside the ledger.
            cron(recalculate_tiers_job, hour={4}, minute={23}, timeout=3600),
        ],
        "on_startup": _startup,
        "on_shutdown": _shutdown,
        "redis_settings": RedisSettings.from_dsn(redis_url),
        # arq's default 0.5 s poll would be half of the "award within a second" budget.
        "poll_delay": 0.1,
        "ctx": {"settings": settings},
    }
