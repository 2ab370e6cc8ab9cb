"""Imports the worker commits: the API validates a file and queues it; a worker job applies it.

Why a job: a commit inside the GraphQL request is capped by the router's request body and its
subgraph timeout; a worker has neither, and a durable record lets the import survive a crash.

Life of a queued import: ``queue_import`` (in the mutation's transaction) validates every
row, records the import ``queued`` and keeps its file in ``staged_uploads``; after the commit
the mutation enqueues :data:`COMMIT_DATA_IMPORT`. The job (:func:`run_queued_import`) applies
the import in ONE transaction that holds the import's advisory lock: ``running`` and the
progress are written beside it in short transactions of their own (so they show while it
works, and are all that shows); the import turns ``committed`` (its file removed) or ``failed``
with a reason in the job's transaction, so a failure leaves nothing applied. A worker killed
mid-way rolls back with its connection and drops the lock; the sweeper then finds a running
import whose lock is free, or a queued one, and enqueues it again. An import started
:data:`MAX_ATTEMPTS` times without finishing ends ``failed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import structlog
from arq.connections import ArqRedis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.ids import new_id
from db.models import UNFINISHED_IMPORT_STATUSES, DataImport, DataImportSource, DataImportStatus
from db.session import system_unit_of_work, tenant_unit_of_work
from subgraphs.kit.events import ledger_changed
from subgraphs.kit.pubsub import data_import_channel
from subgraphs.kit.resources import Resources
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.imports.repository import (
    DataImportRepository,
    StagedUploadRepository,
    unfinished_imports,
)
from subgraphs.points.imports.service import (
    ImportOutcome,
    ImportRequest,
    apply_plan,
    commit_key,
    import_file,
    record_values,
    replay_of,
    validated,
)
from subgraphs.points.imports.uploads import (
    STAGED_UPLOADS_CONTENT,
    UPLOAD_LIFETIME,
    uploaded_content,
)

log = structlog.get_logger(__name__)

COMMIT_DATA_IMPORT = "commit_data_import"
# Starts of one import (a worker dying mid-way is one) before it ends failed.
MAX_ATTEMPTS = 3
# Imports the sweeper looks at per pass.
SWEEP_BATCH = 500


async def create_import(
    write: WriteContext, cipher: FieldCipher, request: ImportRequest
) -> ImportOutcome:
    """A dry run previews at once; a commit is validated here and queued for the worker. The
    file is the request's content, or the staged upload it names (one of them)."""
    if request.upload_id is not None:
        if request.content:
            raise PointsError(
                PointsErrorCode.INVALID_IMPORT_FILE,
                "upload",
                "send the file as fileContent or as an upload, not both",
            )
        content = await uploaded_content(
            write.session, cipher, write.merchant_id, request.upload_id, now=write.now
        )
        request = replace(request, content=content)
    if request.dry_run:
        return await import_file(write, cipher, request)
    return await queue_import(write, cipher, request)


async def queue_import(
    write: WriteContext, cipher: FieldCipher, request: ImportRequest
) -> ImportOutcome:
    """Validate every row (a file with problems is refused whole, as at a commit) and record
    the import ``queued`` with its file; the caller enqueues the job after the commit."""
    imports = DataImportRepository(write.session, write.merchant_id)
    key = commit_key(request)
    assert key is not None, "a commit claims a key"
    replay = await replay_of(imports, key, request)
    if replay is not None:
        return replay
    parsed, plan = await validated(write, cipher, request)
    upload_id = request.upload_id or new_id()
    values = record_values(request, parsed, plan, key=key, actor_id=write.actor_id)
    queued = await imports.insert_new(
        {
            "id": new_id(),
            **values,
            "status": DataImportStatus.QUEUED,
            "upload_id": upload_id,
            "skip_invalid_rows": request.skip_invalid_rows,
        }
    )
    if queued is None:
        # A concurrent request under the same key queued first (this insert waited for it).
        replay = await replay_of(imports, key, request)
        assert replay is not None, "a conflicting insert leaves the row that won"
        return replay
    if request.upload_id is not None:
        return ImportOutcome(queued, False)  # its file is staged already
    # Parsing accepted the file, so it is UTF-8 text.
    await StagedUploadRepository(write.session, write.merchant_id).insert(
        upload_id,
        file_name=request.file_name,
        file_size=len(request.content),
        content_encrypted=cipher.encrypt(request.content.decode(), context=STAGED_UPLOADS_CONTENT),
        expires_at=write.now + UPLOAD_LIFETIME,
    )
    return ImportOutcome(queued, False)


def commit_job_id(import_id: str, attempt: int) -> str:
    """One job per import and attempt: a second enqueue of the same attempt adds nothing, and
    the sweeper's re-enqueue after a lost attempt is a new job (arq keeps a killed job's id
    busy until its timeout)."""
    return f"data-import:{import_id}:{attempt}"


async def enqueue_commit(queue: ArqRedis, data_import: DataImport) -> bool:
    """Ask the worker to apply a queued import; False when Redis is away (the sweeper asks
    again) or the job is queued already."""
    try:
        job = await queue.enqueue_job(
            COMMIT_DATA_IMPORT,
            data_import.merchant_id,
            data_import.id,
            _job_id=commit_job_id(data_import.id, data_import.attempts),
        )
    except (RedisError, OSError) as error:
        log.warning("data_import_enqueue_failed", import_id=data_import.id, error=str(error))
        return False
    # None: that attempt's job is on the queue already.
    return job is not None


async def run_queued_import(
    resources: Resources, merchant_id: str, import_id: str
) -> DataImportStatus | None:
    """Apply a queued (or abandoned running) import, once (module docstring). Returns the
    status it ends in, or None when another worker holds it or no such import exists."""
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        imports = DataImportRepository(session, merchant_id)
        if not await imports.try_lock(import_id):
            return None
        found = await imports.import_by_id(import_id)
        if found is None or found.status not in UNFINISHED_IMPORT_STATUSES:
            return None if found is None else DataImportStatus(found.status)
        if found.attempts >= MAX_ATTEMPTS:
            final = _failed(f"the import stopped {found.attempts} times before it finished")
        else:
            await _record_step(
                resources,
                merchant_id,
                import_id,
                {
                    "status": DataImportStatus.RUNNING,
                    "attempts": found.attempts + 1,
                    "started_at": datetime.now(UTC),
                    "rows_done": 0,
                },
            )
            final = await _apply_in_savepoint(resources, session, found)
        await imports.update_import(import_id, final, only_if_unfinished=True)
    await resources.pubsub.publish(data_import_channel(merchant_id), {"import_id": import_id})
    status = DataImportStatus(final["status"])
    if status == DataImportStatus.COMMITTED:
        await ledger_changed(resources, merchant_id, reason="data_import")
    log.info("data_import_finished", import_id=import_id, status=status.value)
    return status


async def _apply_in_savepoint(
    resources: Resources, session: AsyncSession, found: DataImport
) -> dict[str, Any]:
    """The import applied under a savepoint of the job's transaction: a refusal rolls back to
    it, so the job's transaction records ``failed`` with nothing of the import in it."""
    merchant_id = found.merchant_id
    write = WriteContext(session, merchant_id, actor_id=found.actor_id)
    uploads = StagedUploadRepository(session, merchant_id)

    async def report(_stage: str, done: int, _total: int) -> None:
        await _record_step(resources, merchant_id, found.id, {"rows_done": done})

    try:
        async with session.begin_nested():
            upload = (
                None if found.upload_id is None else await uploads.upload_by_id(found.upload_id)
            )
            if upload is None or upload.content_encrypted is None:
                return _failed("the file is gone (a queued file is kept for a day)")
            content = resources.cipher.decrypt(
                upload.content_encrypted, context=STAGED_UPLOADS_CONTENT
            ).encode()
            request = _request_of(found, content)
            # Matched again: the shop may have changed since the import was queued.
            parsed, plan = await validated(write, resources.cipher, request)
            await apply_plan(write, resources.cipher, found, plan, report=report)
            await uploads.remove(upload.id)
    except PointsError as error:
        return _failed(error.message)
    values = record_values(
        request, parsed, plan, key=found.idempotency_key, actor_id=found.actor_id
    )
    return {
        **values,
        "status": DataImportStatus.COMMITTED,
        "committed_at": write.now,
        "rows_done": len(plan.creates) + len(plan.updates),
        "upload_id": None,
    }


def _request_of(found: DataImport, content: bytes) -> ImportRequest:
    return ImportRequest(
        source=DataImportSource(found.source),
        content=content,
        mapping=found.mapping,
        dry_run=False,
        file_name=found.file_name,
        idempotency_key=found.idempotency_key,
        skip_invalid_rows=found.skip_invalid_rows,
    )


def _failed(reason: str) -> dict[str, Any]:
    return {
        "status": DataImportStatus.FAILED,
        "failed_at": datetime.now(UTC),
        "failure_reason": reason,
    }


async def _record_step(
    resources: Resources, merchant_id: str, import_id: str, values: Mapping[str, Any]
) -> None:
    """Progress, in a short transaction of its own (the job's shows nothing until it commits),
    then published to ``dataImportProgress`` subscribers."""
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        await DataImportRepository(session, merchant_id).update_import(
            import_id, values, only_if_unfinished=True
        )
    await resources.pubsub.publish(data_import_channel(merchant_id), {"import_id": import_id})


async def sweep_unfinished_imports(resources: Resources, queue: ArqRedis) -> int:
    """Enqueue every queued import, and every running one whose worker is gone (its lock is
    free); returns how many. An import a live worker holds is left alone."""
    async with system_unit_of_work(resources.sessions) as session:
        unfinished = await unfinished_imports(session, SWEEP_BATCH)
    enqueued = 0
    for merchant_id, import_id in unfinished:
        async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
            imports = DataImportRepository(session, merchant_id)
            # Free now means no worker is applying it (the lock goes with this transaction).
            if not await imports.try_lock(import_id):
                continue
            found = await imports.import_by_id(import_id)
        if found is not None and found.status in UNFINISHED_IMPORT_STATUSES:
            enqueued += await enqueue_commit(queue, found)
    return enqueued
