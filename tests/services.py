"""Starting our own programs as real processes over the test Postgres and Redis."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import redis
from sqlalchemy import text

from cli.embedded import free_port
from cli.processes import wait_until_ready
from cli.stack import REPO_ROOT
from db.session import system_unit_of_work
from subgraphs.kit.resources import Resources
from subgraphs.kit.settings import Settings


def service_env(settings: Settings, **overrides: str) -> dict[str, str]:
    assert settings.database_url
    assert settings.redis_url
    assert settings.encryption_keys
    assert settings.blind_index_key
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "LOYALNEST_ENCRYPTION_KEYS": settings.encryption_keys,
        "LOYALNEST_BLIND_INDEX_KEY": settings.blind_index_key,
        "SHOPIFY_API_SECRET": settings.shopify_api_secret,
        "SHOPIFY_API_KEY": settings.shopify_api_key,
        "LOYALNEST_DB_POOL_SIZE": "4",
        **overrides,
    }


# Jobs in-process tests queue with no worker to run them: notification flows (every ledger
# commit nudges them), GDPR exports and provider profile deletions (every filed request and
# erasure). A worker started later would first work through all of them, calling providers
# this machine cannot reach; they are no test's business.
_STALE_JOB_PREFIXES = (b"notification-flows:", b"gdpr-export:", b"gdpr-profile-deletion:")


def _drop_stale_jobs(settings: Settings) -> None:
    assert settings.redis_url
    client = redis.Redis.from_url(settings.redis_url)
    try:
        queued: list[bytes] = client.zrange("arq:queue", 0, -1)  # type: ignore[assignment]
        stale = [job_id for job_id in queued if job_id.startswith(_STALE_JOB_PREFIXES)]
        if stale:
            client.zrem("arq:queue", *stale)
            client.delete(*(b"arq:job:" + job_id for job_id in stale))
    finally:
        client.close()


def start_worker(settings: Settings, **overrides: str) -> subprocess.Popen[bytes]:
    """`loyalnest worker`, with a fast sweeper (and referral payouts every second) so recovery
    and rewards show within a test's patience."""
    _drop_stale_jobs(settings)
    env = service_env(
        settings,
        LOYALNEST_INBOX_SWEEP_EVERY_SECONDS="1",
        LOYALNEST_REFERRAL_PAYOUT_EVERY_SECONDS="1",
        LOYALNEST_INBOX_SWEEP_GRACE_SECONDS="1",
        LOYALNEST_WEBHOOK_JOB_TIMEOUT_SECONDS="5",
        LOYALNEST_LOG_LEVEL="WARNING",
        # The flows sweep would queue a job for every merchant the suite gave notifications,
        # each calling providers this machine cannot reach: no test of a worker process is
        # about it (tests/worker/notifications run its jobs as arq does).
        LOYALNEST_NOTIFICATION_FLOWS_SWEEP_MINUTES="0",
        LOYALNEST_GDPR_SWEEPS="false",
        **overrides,
    )
    return subprocess.Popen([sys.executable, "-m", "cli.main", "worker"], env=env, cwd=REPO_ROOT)


def start_edge(settings: Settings, **overrides: str) -> tuple[subprocess.Popen[bytes], str]:
    """`loyalnest serve edge` on a free port, ready; (the process, its base URL)."""
    port = free_port()
    env = service_env(settings, LOYALNEST_LOG_LEVEL="WARNING", **overrides)
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "edge", "--port", str(port)],
        env=env,
        cwd=REPO_ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_ready(f"{url}/health", process, "edge")
    return process, url


async def wait_while_running(
    check: Callable[[], Awaitable[bool]],
    *,
    within: float,
    process: subprocess.Popen[bytes],
    every: float = 0.2,
    explain: Callable[[], Awaitable[str]] | None = None,
) -> None:
    """Poll ``check`` until it holds; fail if ``process`` exits or ``within`` seconds pass
    (saying what ``explain`` finds then: a timeout in CI is otherwise a riddle)."""
    deadline = time.monotonic() + within
    while not await check():
        assert process.poll() is None, "the process exited"
        if time.monotonic() >= deadline:
            found = await explain() if explain is not None else ""
            raise AssertionError(f"timed out after {within} s\n{found}")
        await asyncio.sleep(every)


async def worker_state(resources: Resources) -> str:
    """What a worker is busy with: its queue by job kind, and every non-idle Postgres backend
    with its running time and statement."""
    queued: list[bytes] = await resources.redis.zrange("arq:queue", 0, -1)
    kinds = Counter(job_id.decode().split(":")[0] for job_id in queued)
    running = [
        key.decode().removeprefix("arq:in-progress:")
        async for key in resources.redis.scan_iter("arq:in-progress:*")
        if not key.startswith(b"arq:in-progress:cron:")
    ]
    async with system_unit_of_work(resources.sessions) as session:
        backends = (
            await session.execute(
                text(
                    "SELECT pid, state, wait_event_type, wait_event,"
                    " round(extract(epoch FROM clock_timestamp() - query_start)::numeric, 1),"
                    " left(regexp_replace(query, '\\s+', ' ', 'g'), 300)"
                    " FROM pg_stat_activity WHERE state <> 'idle' AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend' ORDER BY query_start"
                )
            )
        ).all()
    lines = [f"queued jobs by kind: {dict(kinds)}", f"in progress: {running}"]
    lines += [" | ".join(str(column) for column in backend) for backend in backends]
    return "\n".join(lines)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it is still there after 15 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
