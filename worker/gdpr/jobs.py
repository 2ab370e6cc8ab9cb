"""GDPR jobs: telling merchants of carried-out requests (``notices.py``), deleting erased
customers' Klaviyo profiles (``profile_deletions.py``), and retention of
GDPR records: a request's record and its export (personal data, handed to the
customer) are kept 90 days, then deleted. Daily; a run that stops halfway leaves the rest for
the next one, since each merchant commits on its own. (The webhook payloads of the requests
are in the monthly partitions of ``api_logs``, dropped after the same 90 days.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.admin.gdpr.profile_deletions import DELETE_PROVIDER_PROFILE
from subgraphs.admin.gdpr.repository import merchants_with_expired_requests
from subgraphs.admin.gdpr.service import purge_expired_requests
from subgraphs.kit.jobs import Cron, gdpr_sweep_schedule, job, job_queue, job_resources
from subgraphs.kit.resources import Resources
from worker.gdpr.notices import notify_merchants
from worker.gdpr.profile_deletions import run_profile_deletion, sweep_profile_deletions

log = structlog.get_logger(__name__)


@dataclass
class RetentionSummary:
    merchants: int = 0
    requests: int = 0
    failed_merchants: list[str] = field(default_factory=list)


async def run_gdpr_retention(resources: Resources, *, now: datetime) -> RetentionSummary:
    """Delete every merchant's GDPR requests (and exports) past their retention."""
    summary = RetentionSummary()
    async with system_unit_of_work(resources.sessions) as session:
        merchant_ids = await merchants_with_expired_requests(session, now)
    for merchant_id in merchant_ids:
        try:
            async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
                summary.requests += await purge_expired_requests(session, merchant_id, now)
        except Exception:
            log.exception("gdpr_retention_failed", merchant_id=merchant_id)
            summary.failed_merchants.append(merchant_id)
        else:
            summary.merchants += 1
    return summary


# Daily at 03:40 UTC, off the busy hours.
@job(timeout=3600, cron=Cron(hour=frozenset({3}), minute=frozenset({40})))
async def purge_gdpr_records(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq job: delete GDPR requests and exports past their 90 days, for every merchant."""
    summary = await run_gdpr_retention(job_resources(ctx), now=datetime.now(UTC))
    log.info(
        "gdpr_records_purged",
        merchants=summary.merchants,
        requests=summary.requests,
        failed_merchants=len(summary.failed_merchants),
    )
    return {
        "merchants": summary.merchants,
        "requests": summary.requests,
        "failed_merchants": summary.failed_merchants,
    }


@job(timeout=120, cron=Cron())
async def notify_merchants_of_gdpr_requests(ctx: dict[str, Any]) -> dict[str, int]:
    """Every minute: tell merchants of the GDPR requests carried out for them since."""
    http: httpx.AsyncClient = ctx["http"]
    summary = await notify_merchants(job_resources(ctx), http, now=datetime.now(UTC))
    if summary.requests:
        log.info("gdpr_merchants_notified", **vars(summary))
    return vars(summary)


@job(timeout=600, keep_result=0)
async def delete_provider_profile(
    ctx: dict[str, Any], merchant_id: str, deletion_id: str
) -> str | None:
    """arq job (``DELETE_PROVIDER_PROFILE``): one run of an erased customer's Klaviyo profile
    deletion; the status it left (None: nothing to do)."""
    http: httpx.AsyncClient = ctx["http"]
    return await run_profile_deletion(job_resources(ctx), http, merchant_id, deletion_id)


assert delete_provider_profile.__name__ == DELETE_PROVIDER_PROFILE, "arq enqueues by name"


@job(timeout=300, cron=gdpr_sweep_schedule)
async def sweep_provider_profile_deletions(ctx: dict[str, Any]) -> int:
    resources = job_resources(ctx)
    enqueued = await sweep_profile_deletions(resources, job_queue(resources.redis))
    if enqueued:
        log.info("gdpr_profile_deletions_reenqueued", count=enqueued)
    return enqueued
