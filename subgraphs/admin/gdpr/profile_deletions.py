"""An erased customer's profile at the merchant's marketing provider (Klaviyo) is deleted too.

``customers/redact`` (and a filed erasure) records, in its own transaction and before the
customer's email is overwritten, one ``gdpr_profile_deletions`` row per customer holding the
identifier the provider knows them by, encrypted (:func:`record_profile_deletions`). Once it
commits, :data:`DELETE_PROVIDER_PROFILE` is enqueued for each; the worker's job
(``worker/gdpr/profile_deletions.py``) reads the merchant's provider, asks it to delete the
profile, and clears the identifier whatever the outcome: asked, skipped (the merchant has no
Klaviyo) or given up after :data:`MAX_ATTEMPTS`. The erasure never waits for the provider.
"""

from __future__ import annotations

import orjson
import structlog
from arq.connections import ArqRedis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.encryption_contexts import GDPR_PROFILE_DELETIONS_IDENTIFIER
from db.ids import new_id
from db.models import GdprRequest
from db.session import tenant_unit_of_work
from subgraphs.admin.gdpr.profile_deletions_repository import (
    GdprProfileDeletionsRepository,
    NewProfileDeletion,
)
from subgraphs.kit.after_commit import after_commit
from subgraphs.kit.jobs import job_queue
from subgraphs.kit.resources import Resources

log = structlog.get_logger(__name__)

DELETE_PROVIDER_PROFILE = "delete_provider_profile"
KLAVIYO = "klaviyo"
# Runs of the job (each with its own HTTP retries) before a deletion is given up.
MAX_ATTEMPTS = 5


def identifier_of(email: str | None, phone: str | None) -> dict[str, str] | None:
    """How Klaviyo finds the profile we made: the email we sent, else the phone."""
    if email:
        return {"email": email}
    if phone:
        return {"phone_number": phone}
    return None


async def record_profile_deletions(
    session: AsyncSession,
    cipher: FieldCipher,
    merchant_id: str,
    request_id: str,
    identifiers: dict[str, dict[str, str]],
) -> None:
    """A pending deletion per customer (``{customer id: identifier}``), in the erasure's
    transaction; the identifier encrypted, for the job alone to read."""
    await GdprProfileDeletionsRepository(session, merchant_id).insert_pending(
        [
            NewProfileDeletion(
                id=new_id(),
                request_id=request_id,
                customer_id=customer_id,
                provider=KLAVIYO,
                identifier_encrypted=cipher.encrypt(
                    orjson.dumps(identifier).decode(), context=GDPR_PROFILE_DELETIONS_IDENTIFIER
                ),
            )
            for customer_id, identifier in identifiers.items()
        ]
    )


def profile_deletion_job_id(deletion_id: str, attempt: int) -> str:
    """One job per deletion and attempt: a second enqueue of one attempt adds nothing."""
    return f"gdpr-profile-deletion:{deletion_id}:{attempt}"


async def enqueue_profile_deletion(
    queue: ArqRedis, merchant_id: str, deletion_id: str, attempt: int
) -> bool:
    """False when Redis is away (the sweeper asks again) or that attempt is queued already."""
    try:
        queued = await queue.enqueue_job(
            DELETE_PROVIDER_PROFILE,
            merchant_id,
            deletion_id,
            _job_id=profile_deletion_job_id(deletion_id, attempt),
        )
    except (RedisError, OSError) as error:
        log.warning(
            "gdpr_profile_deletion_enqueue_failed", deletion_id=deletion_id, error=str(error)
        )
        return False
    return queued is not None


async def enqueue_profile_deletions(resources: Resources, merchant_id: str, request_id: str) -> int:
    """Enqueue the erasure's deletions (after its commit); how many."""
    async with tenant_unit_of_work(resources.sessions, merchant_id) as session:
        unfinished = await GdprProfileDeletionsRepository(
            session, merchant_id
        ).unfinished_of_request(request_id)
    queue = job_queue(resources.redis)
    return sum(
        [
            await enqueue_profile_deletion(queue, merchant_id, deletion_id, attempts)
            for deletion_id, attempts in unfinished
        ]
    )


def enqueue_profile_deletions_after_commit(
    session: AsyncSession, resources: Resources, request: GdprRequest
) -> None:
    merchant_id, request_id = request.merchant_id, request.id

    async def enqueue() -> None:
        await enqueue_profile_deletions(resources, merchant_id, request_id)

    after_commit(session, enqueue)
