"""arq worker settings: every job the domains declare, found where they declare it.

A job lives in some ``jobs.py`` under ``subgraphs/`` or ``worker/``, decorated with
``kit.jobs.job`` (its timeout and schedule beside it); :func:`discover_jobs` imports those
modules and the worker registers what they declare. Nothing here lists jobs by name.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import pkgutil
from collections.abc import Iterator
from contextlib import AsyncExitStack
from types import ModuleType
from typing import Any, cast

import httpx
from arq import cron, func
from arq.connections import RedisSettings
from arq.typing import WorkerCoroutine
from prometheus_client import start_http_server

import subgraphs
import worker
from subgraphs.kit.collector import settle_after_startup
from subgraphs.kit.jobs import JobSpec, declared_jobs
from subgraphs.kit.observability import configure_logging
from subgraphs.kit.resources import open_resources
from subgraphs.kit.settings import Settings, get_settings
from worker.webhooks.batches import LANES, MAX_BATCH
from worker.webhooks.wakeups import listening_for_deliveries

# Packages searched for ``jobs`` modules.
JOB_PACKAGES: tuple[ModuleType, ...] = (subgraphs, worker)


def _jobs_modules() -> Iterator[ModuleType]:
    for package in JOB_PACKAGES:
        prefix = f"{package.__name__}."
        for module in pkgutil.walk_packages(package.__path__, prefix):
            if module.name.rsplit(".", 1)[-1] == "jobs":
                yield importlib.import_module(module.name)


def discover_jobs() -> list[JobSpec]:
    """Every declared job, once, in a stable order (by module, then definition)."""
    found: dict[str, JobSpec] = {}
    for module in _jobs_modules():
        for spec in declared_jobs(module):
            if spec.function.__module__ != module.__name__:
                continue  # imported from elsewhere: registered where it is defined
            if spec.name in found:
                raise RuntimeError(f"two jobs are named {spec.name!r}: arq names jobs by function")
            found[spec.name] = spec
    return list(found.values())


async def _startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    assert settings.database_url, "the CLI resolves DATABASE_URL before starting the worker"
    # Ledger jobs publish changes (cache, pub/sub) and reminders call Klaviyo / Postscript.
    stack = AsyncExitStack()
    ctx["exit_stack"] = stack
    ctx["resources"] = await stack.enter_async_context(open_resources(settings))
    ctx["http"] = await stack.enter_async_context(httpx.AsyncClient(timeout=10.0))
    if settings.worker_metrics_port is not None:
        # A thread of its own: a scrape never waits for a job holding the event loop.
        metrics, _ = start_http_server(settings.worker_metrics_port, addr=settings.host)
        stack.callback(metrics.server_close)
        stack.callback(metrics.shutdown)
    # Deliveries wake the worker through Postgres (worker.webhooks.wakeups).
    await stack.enter_async_context(listening_for_deliveries(ctx["resources"]))
    settle_after_startup()


async def _shutdown(ctx: dict[str, Any]) -> None:
    await ctx["exit_stack"].aclose()


# Jobs other than webhook deliveries run at most this many at once, as when arq's own limit
# was 10: they hold a connection (and call providers) for their whole run, and arq now takes
# up to LANES x MAX_BATCH jobs at once. A job's wait for a slot counts in its timeout.
SHARED_SLOTS = 10


def _in_shared_slots(function: Any, slots: asyncio.Semaphore) -> Any:
    @functools.wraps(function)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        async with slots:
            return await function(ctx, *args, **kwargs)

    return run


def _registered(spec: JobSpec, slots: asyncio.Semaphore) -> WorkerCoroutine:
    function = _in_shared_slots(spec.function, slots) if spec.shares_slots else spec.function
    return cast(WorkerCoroutine, function)


def worker_settings(settings: Settings) -> dict[str, Any]:
    redis_url = settings.redis_url
    assert redis_url, "the CLI resolves REDIS_URL before starting the worker"
    configure_logging(settings.log_level)
    jobs = discover_jobs()
    slots = asyncio.Semaphore(SHARED_SLOTS)
    functions = [
        func(
            _registered(spec, slots),
            name=spec.name,
            timeout=spec.timeout_for(settings),
            keep_result=spec.keep_result,
        )
        for spec in jobs
    ]
    cron_jobs = []
    for spec in jobs:
        schedule = spec.cron_for(settings)
        if schedule is None:
            continue
        cron_jobs.append(
            cron(
                _registered(spec, slots),
                name=f"cron:{spec.name}",
                hour=set(schedule.hour) if schedule.hour is not None else None,
                minute=set(schedule.minute) if schedule.minute is not None else None,
                second=set(schedule.second),
                run_at_startup=schedule.run_at_startup,
                unique=True,
                timeout=spec.timeout_for(settings),
            )
        )
    return {
        "functions": functions,
        "cron_jobs": cron_jobs,
        "on_startup": _startup,
        "on_shutdown": _shutdown,
        "redis_settings": RedisSettings.from_dsn(redis_url),
        # arq's default 0.5 s poll would be half of the "award within a second" budget.
        "poll_delay": 0.1,
        # A webhook job (a retry, an admin's re-run) waits for its batch
        # (worker.webhooks.batches) and holds no connection meanwhile: enough at once to fill
        # every lane's batch when a burst of retries comes due. Other jobs share SHARED_SLOTS.
        "max_jobs": LANES * MAX_BATCH,
        "ctx": {"settings": settings},
    }
