"""Putting work on the job queue (arq on Redis) from any process.

The queue only says "look at this soon". Whatever a job acts on is first committed to
Postgres, and a sweeper re-enqueues what a lost message or a crash left behind, so a failed
enqueue (Redis down) delays work and never loses it.
"""

from __future__ import annotations

import structlog
from arq.connections import ArqRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

PROCESS_WEBHOOK_DELIVERY = "process_webhook_delivery"


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
