"""The export job: a pending data request turned into a completed one with its export.

Life of a data request: ``export.handle_customer_data_request`` records it ``pending`` with
what to export; once that commits, :data:`BUILD_GDPR_EXPORT` is enqueued. The job
(:func:`run_export`) builds the whole export in ONE transaction that holds the request's
advisory lock, and the same transaction's last statement stores the encrypted export and
marks the request ``completed``: an export is visible completed or not at all. A worker killed
(or a job raising) midway rolls back with nothing written and drops the lock; the sweeper then
finds a pending request whose lock is free and enqueues it again, and the rerun starts over.
Each start is counted in a short transaction of its own, so a request that stopped
:data:`MAX_ATTEMPTS` times ends ``failed`` instead of crashing workers forever.

Every export goes through the job, small ones too: one path to crash-proof, and the job is
enqueued without delay (a small customer's export is done well within a second of the
request); the API call or webhook never waits for an export to be built.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from arq.connections import ArqRedis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from db.encryption_contexts import GDPR_REQUESTS_EXPORT
from db.models import GdprRequest
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.admin.gdpr.export import EXPORT_PAGE, ExportSpec, PageHook, build_export
from subgraphs.admin.gdpr.repository import GdprRequestsRepository, pending_data_requests
from subgraphs.admin.gdpr.service import RETENTION, GdprRequestStatus
from subgraphs.kit.after_commit import after_commit
from subgraphs.kit.audit import AuditAction
from subgraphs.kit.jobs import job_queue, nudge_notification_flows
from subgraphs.kit.repository import insert_audit_log
from subgraphs.kit.resources import Resources

log = structlog.get_logger(__name__)

BUILD_GDPR_EXPORT = "build_gdpr_export"
# Starts of one export (a worker dying midway is one) before it ends failed.
MAX_ATTEMPTS = 3
# Pending requests the sweeper looks at per pass.
SWEEP_BATCH = 500


def export_job_id(request_id: str, attempt: int) -> str:
    """One job per request and attempt: a second enqueue of the same attempt adds nothing,
    and the sweeper's after a lost attempt is a new job (arq keeps a killed job's id busy
    until its timeout)."""
    return f"gdpr-export:{request_id}:{attempt}"


async def enqueue_export(queue: ArqRedis, merchant_id: str, request_id: str, attempt: int) -> bool:
    """Ask the worker to build the export; False when Redis is away (the sweeper asks again)
    or that attempt is queued already."""
    try:
        queued = await queue.enqueue_job(
            BUILD_GDPR_EXPORT, merchant_id, request_id, _job_id=export_job_id(request_id, attempt)
        )
    except (RedisError, OSError) as error:
        log.warning("gdpr_export_enqueue_failed", request_id=request_id, error=str(error))
        return False
    return queued is not None


def enqueue_export_after_commit(
    session: AsyncSession, resources: Resources, request: GdprRequest
) -> None:
    """Enqueue the export of a just-accepted data request once ``session`` commits."""
    if request.request_type != "data_request" or request.status != GdprRequestStatus.PENDING:
        return
    merchant_id, request_id = request.merchant_id, request.id

    async def enqueue() -> None:
        await enqueue_export(job_queue(resources.redis), merchant_id, request_id, 0)

    after_commit(session, enqueue)


async def run_export(
    resources: Resources,
    merchant_id: str,
    request_id: str,
    *,
    page_size: int = EXPORT_PAGE,
    on_page: PageHook | None = None,
) -> GdprRequestStatus | None:
    """Build a pending request's export, once (module docstring). The status it ends in;
    None when another worker holds it, or it is no pending data request."""
    cipher = resources.cipher
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        requests = GdprRequestsRepository(session, merchant_id)
        if not await requests.try_lock(request_id):
            return None
        pending = await requests.pending_export(request_id)
        if pending is None:
            return None
        attempts, spec_token = pending
        if attempts >= MAX_ATTEMPTS:
            await requests.finish_export(
                request_id,
                status=GdprRequestStatus.FAILED,
                export_encrypted=None,
                completed_at=None,
                error=f"the export stopped {attempts} times before it was built",
            )
            log.error("gdpr_export_failed", request_id=request_id, attempts=attempts)
            return GdprRequestStatus.FAILED
        await _count_attempt(resources, merchant_id, request_id)
        export_token = None
        audit: dict[str, object] = {"data_held": False}
        if spec_token is not None:  # None: a redact erased the request meanwhile
            spec = ExportSpec.decrypted(cipher, spec_token)
            built = await build_export(
                session,
                cipher,
                merchant_id,
                request_id,
                spec,
                now=datetime.now(UTC),
                page_size=page_size,
                on_page=on_page,
            )
            export_token = cipher.encrypt(built.document.decode(), context=GDPR_REQUESTS_EXPORT)
            audit = {
                "delivery_id": spec.delivery_id,
                "customer_ids": spec.customer_ids,
                "data_held": built.data_held,
                "orders_requested": len(spec.orders_requested),
                "pages": built.pages,
            }
        # Now, not when the build began: the customer's flows read completions in order.
        completed_at = datetime.now(UTC)
        await requests.finish_export(
            request_id,
            status=GdprRequestStatus.COMPLETED,
            export_encrypted=export_token,
            completed_at=completed_at,
            retention_expires_at=completed_at + RETENTION,
        )
        await insert_audit_log(
            session,
            merchant_id=merchant_id,
            action=AuditAction.GDPR_DATA_REQUEST,
            metadata={"request_id": request_id, **audit},
        )
    # The customer hears it is done (GDPR_DONE) from the merchant's flows; the merchant from
    # the minutely notice job, which finds the completion.
    await nudge_notification_flows(resources.redis, merchant_id, calls=resources.redis_calls)
    log.info("gdpr_data_request_exported", merchant_id=merchant_id, request_id=request_id)
    return GdprRequestStatus.COMPLETED


async def _count_attempt(resources: Resources, merchant_id: str, request_id: str) -> None:
    """In a transaction of its own: it must stay counted when the build's rolls back."""
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        await GdprRequestsRepository(session, merchant_id).count_attempt(request_id)


async def sweep_pending_exports(resources: Resources, queue: ArqRedis) -> int:
    """Enqueue every pending data request no worker is building (its lock is free); returns
    how many. One a live worker holds is left alone."""
    async with system_unit_of_work(resources.sessions) as session:
        pending = await pending_data_requests(session, SWEEP_BATCH)
    enqueued = 0
    for merchant_id, request_id, attempts in pending:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            if not await GdprRequestsRepository(session, merchant_id).try_lock(request_id):
                continue
        enqueued += await enqueue_export(queue, merchant_id, request_id, attempts)
    return enqueued
