"""arq worker settings: every domain's background jobs, on Redis."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings

from db.session import create_engine, create_session_factory
from subgraphs.admin.jobs import maintain_log_partitions_job
from subgraphs.kit.observability import configure_logging
from subgraphs.kit.settings import Settings, get_settings


async def _startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    assert settings.database_url, "the CLI resolves DATABASE_URL before starting the worker"
    ctx["engine"] = create_engine(settings.database_url, pool_size=2)
    ctx["sessions"] = create_session_factory(ctx["engine"])


async def _shutdown(ctx: dict[str, Any]) -> None:
    await ctx["engine"].dispose()


def worker_settings(settings: Settings) -> dict[str, Any]:
    redis_url = settings.redis_url
    assert redis_url, "the CLI resolves REDIS_URL before starting the worker"
    configure_logging(settings.log_level)
    return {
        "functions": [maintain_log_partitions_job],
        "cron_jobs": [
            cron(maintain_log_partitions_job, hour={3}, minute={17}, run_at_startup=True),
        ],
        "on_startup": _startup,
        "on_shutdown": _shutdown,
        "redis_settings": RedisSettings.from_dsn(redis_url),
        "ctx": {"settings": settings},
    }
