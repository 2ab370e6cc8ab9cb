"""The jobs that send merchants' event notifications and keep their Klaviyo profiles.

``send_notification_flows`` runs one merchant's message flows (``points.notifications.flows``)
and pushes their changed profiles (``worker.klaviyo_profiles.sync``). A commit that may have
made an event nudges it (``kit.events.ledger_changed``); one job per merchant is queued or
running at a time (its job id), and the one waiting reads every event committed before it
starts. The sweep queues it every 5 minutes for every merchant with notifications, so an
event whose nudge was lost (Redis down, a worker killed) waits at most that long, and a
message the provider could not take is tried again after its backoff. The nightly reconcile
pushes every profile that changed without an audit entry saying so (imports, renamed tiers).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from db.session import tenant_unit_of_work
from subgraphs.kit.integrations.http_retries import DEFAULT_RETRY_POLICY, RetryPolicy
from subgraphs.kit.jobs import (
    SEND_NOTIFICATION_FLOWS,
    Cron,
    for_each_merchant,
    job,
    job_resources,
    nudge_notification_flows,
)
from subgraphs.kit.resources import Resources
from subgraphs.kit.settings import Settings
from subgraphs.points.notifications.events import POINTS_FLOWS
from subgraphs.points.notifications.flows import Flow, FlowsSummary, run_flows
from subgraphs.points.notifications.sending import send_setup
from subgraphs.points.program.repository import merchants_with_notifications
from worker.gdpr.notices import GDPR_DONE_FLOW
from worker.klaviyo_profiles.sync import (
    ProfileSyncSummary,
    push_changed_profiles,
    reconcile_profiles,
)

log = structlog.get_logger(__name__)

FLOWS: tuple[Flow, ...] = (*POINTS_FLOWS, GDPR_DONE_FLOW)


async def run_merchant_notifications(
    resources: Resources,
    http: httpx.AsyncClient,
    merchant_id: str,
    *,
    now: datetime,
    retry: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> dict[str, Any]:
    """One merchant's flows, then their changed Klaviyo profiles (nothing, after one short
    read, for a merchant who sends no notifications)."""

    def sessions() -> Any:
        return tenant_unit_of_work(resources.sessions, merchant_id)

    async with sessions() as session:
        if await send_setup(session, merchant_id, resources.cipher) is None:
            return {"messages": asdict(FlowsSummary()), "profiles": asdict(ProfileSyncSummary())}
    messages = await run_flows(
        sessions, merchant_id, resources.cipher, FLOWS, now=now, http=http, retry=retry
    )
    profiles = await push_changed_profiles(resources, http, merchant_id, now=now, retry=retry)
    return {"messages": asdict(messages), "profiles": asdict(profiles)}


@job(timeout=600, keep_result=0)
async def send_notification_flows(ctx: dict[str, Any], merchant_id: str) -> dict[str, Any]:
    """Send the merchant's event notifications and push their changed Klaviyo profiles."""
    http: httpx.AsyncClient = ctx["http"]
    report = await run_merchant_notifications(
        job_resources(ctx), http, merchant_id, now=datetime.now(UTC)
    )
    if report["messages"]["sent"] or report["profiles"]["pushed"]:
        log.info("notification_flows_ran", merchant_id=merchant_id, **report)
    return report


def _sweep_schedule(settings: Settings) -> Cron | None:
    # Every 5 minutes by default: the nudges after each commit are the fast path; the sweep
    # only catches a lost one (and paces retries), and a merchant with nothing new costs it
    # one read transaction. 0 turns it off (workers that tests start for other work).
    every = settings.notification_flows_sweep_minutes
    return None if every == 0 else Cron(minute=frozenset(range(0, 60, every)))


@job(timeout=240, cron=_sweep_schedule)
async def sweep_notification_flows(ctx: dict[str, Any]) -> int:
    """Every 5 minutes: queue the flows job of every merchant with notifications (a
    merchant's queued or running job is not queued twice)."""
    resources = job_resources(ctx)

    async def nudge(merchant_id: str) -> None:
        await nudge_notification_flows(resources.redis, merchant_id)

    sweep = await for_each_merchant(
        resources.sessions,
        page=merchants_with_notifications,
        merchant_id=str,
        work=nudge,
        failure_event="notification_flows_sweep_failed",
    )
    return len(sweep.handled)


async def run_profile_reconcile(
    resources: Resources,
    http: httpx.AsyncClient,
    *,
    now: datetime,
    retry: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> dict[str, int]:
    """Every Klaviyo merchant's profiles that changed, pushed (merchants without Klaviyo or
    with the sync off are passed over)."""
    totals = {"merchants": 0, "pushed": 0, "unchanged": 0, "not_pushed": 0, "stopped": 0}

    async def reconcile(merchant_id: str) -> None:
        summary = await reconcile_profiles(resources, http, merchant_id, now=now, retry=retry)
        totals["merchants"] += 1
        totals["pushed"] += summary.pushed
        totals["unchanged"] += summary.unchanged
        totals["not_pushed"] += summary.not_pushed
        totals["stopped"] += summary.stopped

    await for_each_merchant(
        resources.sessions,
        page=merchants_with_notifications,
        merchant_id=str,
        work=reconcile,
        failure_event="klaviyo_profile_reconcile_failed",
    )
    return totals


# Nightly at 02:30 UTC, and again at 05:30 for what a Klaviyo rate limit left over (a run only
# pushes what changed, so the second is cheap when the first finished).
@job(timeout=3 * 3600, cron=Cron(hour=frozenset({2, 5}), minute=frozenset({30})))
async def reconcile_klaviyo_profiles(ctx: dict[str, Any]) -> dict[str, int]:
    """Push every customer's loyalty properties that changed to the merchants' Klaviyo."""
    http: httpx.AsyncClient = ctx["http"]
    totals = await run_profile_reconcile(job_resources(ctx), http, now=datetime.now(UTC))
    log.info("klaviyo_profiles_reconciled", **totals)
    return totals


assert send_notification_flows.__name__ == SEND_NOTIFICATION_FLOWS, "arq names jobs by function"
