"""The worker's side of deleting an erased customer's Klaviyo profile
(``subgraphs/admin/gdpr/profile_deletions.py`` records what to delete).

One run of :func:`run_profile_deletion` claims the deletion (a lease, so a crashed run lets
go), reads the merchant's provider, and, with no transaction open, asks Klaviyo's Data Privacy
API to delete the profile (429 and 5xx retried with backoff by ``http_retries``). Then, in
another short transaction: ``requested`` (Klaviyo accepted it), ``skipped`` (the merchant has
no Klaviyo), ``failed`` (Klaviyo refused it, or stayed unavailable through
``MAX_ATTEMPTS`` runs: logged), each clearing the identifier; or back to ``pending`` after a
backoff, for the sweeper to run again. A deletion is sent once; only a crash between
Klaviyo's answer and our record of it sends it again, and a second deletion of a profile
Klaviyo deleted already deletes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import orjson
import structlog
from arq.connections import ArqRedis

from db.encryption_contexts import GDPR_PROFILE_DELETIONS_IDENTIFIER
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.admin.gdpr.profile_deletions import (
    MAX_ATTEMPTS,
    enqueue_profile_deletion,
)
from subgraphs.admin.gdpr.profile_deletions_repository import (
    GdprProfileDeletionsRepository,
    due_profile_deletions,
)
from subgraphs.kit.integrations.http_retries import DEFAULT_RETRY_POLICY, RetryPolicy
from subgraphs.kit.integrations.notifications import (
    KlaviyoClient,
    NotificationRejected,
    NotificationUnavailable,
)
from subgraphs.kit.resources import Resources
from subgraphs.points.notifications.sending import send_setup
from subgraphs.points.program.service import NotificationProvider

log = structlog.get_logger(__name__)

# How long a run holds a deletion: far past its HTTP retries, so only a dead run loses it.
LEASE = timedelta(minutes=10)
SWEEP_BATCH = 500


def backoff(attempts: int) -> timedelta:
    """Before the next run after ``attempts`` unavailable ones: 1, 2, 4, 8 minutes."""
    return timedelta(minutes=2 ** max(attempts - 1, 0))


async def run_profile_deletion(
    resources: Resources,
    http: httpx.AsyncClient,
    merchant_id: str,
    deletion_id: str,
    *,
    retry: RetryPolicy = DEFAULT_RETRY_POLICY,
) -> str | None:
    """One run (module docstring): the status it left, or None when there was nothing to do
    (finished, held by another run, or waiting out a backoff)."""
    now = datetime.now(UTC)
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        deletions = GdprProfileDeletionsRepository(session, merchant_id)
        claimed = await deletions.claim(deletion_id, now=now, until=now + LEASE)
        if claimed is None:
            return None
        setup = await send_setup(session, merchant_id, resources.cipher)
    token = claimed.identifier_encrypted
    if setup is None or setup.provider is not NotificationProvider.KLAVIYO or token is None:
        return await _finish(resources, merchant_id, deletion_id, "skipped")
    identifier = orjson.loads(
        resources.cipher.decrypt(token, context=GDPR_PROFILE_DELETIONS_IDENTIFIER)
    )
    try:
        await KlaviyoClient(http, setup.api_key, retry=retry).request_profile_deletion(identifier)
    except NotificationRejected as refused:
        # The status only: Klaviyo's text may quote the address.
        error = f"klaviyo refused the deletion: {refused.status_code}"
        log.error("gdpr_profile_deletion_failed", deletion_id=deletion_id, error=error)
        return await _finish(resources, merchant_id, deletion_id, "failed", error)
    except NotificationUnavailable as unavailable:
        error = str(unavailable)[:300]
        if claimed.attempts >= MAX_ATTEMPTS:
            log.error("gdpr_profile_deletion_failed", deletion_id=deletion_id, error=error)
            return await _finish(resources, merchant_id, deletion_id, "failed", error)
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            await GdprProfileDeletionsRepository(session, merchant_id).retry_later(
                deletion_id, not_before=datetime.now(UTC) + backoff(claimed.attempts), error=error
            )
        log.warning("gdpr_profile_deletion_postponed", deletion_id=deletion_id, error=error)
        return "pending"
    return await _finish(resources, merchant_id, deletion_id, "requested")


async def _finish(
    resources: Resources, merchant_id: str, deletion_id: str, status: str, error: str | None = None
) -> str:
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        await GdprProfileDeletionsRepository(session, merchant_id).finish(
            deletion_id, status=status, now=datetime.now(UTC), error=error
        )
    log.info("gdpr_profile_deletion_finished", deletion_id=deletion_id, status=status)
    return status


async def sweep_profile_deletions(resources: Resources, queue: ArqRedis) -> int:
    """Enqueue every unfinished deletion that is due (a lost message, a crashed run, a
    backoff over); how many."""
    async with system_unit_of_work(resources.sessions) as session:
        due = await due_profile_deletions(session, datetime.now(UTC), SWEEP_BATCH)
    enqueued = 0
    for merchant_id, deletion_id, attempts in due:
        enqueued += await enqueue_profile_deletion(queue, merchant_id, deletion_id, attempts)
    return enqueued
