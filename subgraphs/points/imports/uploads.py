"""Staged uploads, the Shopify way: ``stagedUploadCreate`` reserves an upload and answers a
short-lived signed URL on the edge app; the client PUTs the file there
(``gateway/edge/uploads``), and ``dataImportCreate(input: {upload})`` imports it.

The bytes are kept in Postgres (``staged_uploads``, encrypted: customer exports are PII) until
the import that uses them is applied, or for :data:`UPLOAD_LIFETIME` (the retention job
deletes what is left). The URL is ``{app_url}/uploads/{merchant id}/{upload id}?expires=…&
signature=…`` (``kit.signed_links``), valid for :data:`UPLOAD_URL_TTL`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from db.crypto import FieldCipher
from db.ids import new_id
from db.models import StagedUpload
from subgraphs.kit.signed_links import LinkCheck, check_link, signed_query
from subgraphs.kit.write_context import WriteContext
from subgraphs.points.errors import PointsError, PointsErrorCode
from subgraphs.points.imports.parsing import MAX_FILE_BYTES
from subgraphs.points.imports.repository import StagedUploadRepository

UPLOAD_URL_TTL = timedelta(minutes=15)
# How long a staged file waits for its import (the retention job deletes it after).
UPLOAD_LIFETIME = timedelta(days=1)
MAX_UPLOAD_BYTES = MAX_FILE_BYTES
# What spreadsheets and browsers call a CSV file.
CSV_MIME_TYPES = frozenset(
    {"text/csv", "text/plain", "application/csv", "application/vnd.ms-excel"}
)
# The encryption context of a staged file's bytes.
STAGED_UPLOADS_CONTENT = "staged_uploads.content"
_PURPOSE = "loyalnest:staged-upload"


@dataclass(frozen=True, slots=True)
class UploadTarget:
    upload: StagedUpload
    url: str
    url_expires_at: datetime


class StoreOutcome(enum.Enum):
    STORED = "stored"
    NOT_FOUND = "not_found"
    # Larger than the size the upload was reserved for.
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"


def upload_path(merchant_id: str, upload_id: str) -> str:
    return f"/uploads/{quote(merchant_id)}/{quote(upload_id)}"


async def create_staged_upload(
    write: WriteContext,
    *,
    app_url: str,
    secret: str,
    file_name: str,
    file_size: int,
    mime_type: str,
) -> UploadTarget:
    """Reserve an upload of ``file_size`` bytes and sign the URL to PUT it to."""
    if file_size > MAX_UPLOAD_BYTES:
        raise PointsError(
            PointsErrorCode.IMPORT_FILE_TOO_LARGE,
            "fileSize",
            f"an import file is at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB",
        )
    if file_size <= 0:
        raise PointsError(PointsErrorCode.INVALID_IMPORT_FILE, "fileSize", "the file is empty")
    if mime_type.lower() not in CSV_MIME_TYPES:
        raise PointsError(
            PointsErrorCode.INVALID_IMPORT_FILE,
            "mimeType",
            f"an import file is CSV ({', '.join(sorted(CSV_MIME_TYPES))})",
        )
    upload = await StagedUploadRepository(write.session, write.merchant_id).insert(
        new_id(),
        file_name=file_name,
        file_size=file_size,
        content_encrypted=None,
        expires_at=write.now + UPLOAD_LIFETIME,
    )
    url_expires_at = (write.now + UPLOAD_URL_TTL).replace(microsecond=0)
    query = signed_query(secret, _PURPOSE, (write.merchant_id, upload.id), url_expires_at)
    url = f"{app_url.rstrip('/')}{upload_path(write.merchant_id, upload.id)}?{query}"
    return UploadTarget(upload, url, url_expires_at)


def check_upload_link(
    secret: str,
    merchant_id: str,
    upload_id: str,
    expires: str | None,
    signature: str | None,
    *,
    now: datetime,
) -> LinkCheck:
    return check_link(secret, _PURPOSE, (merchant_id, upload_id), expires, signature, now=now)


async def store_upload(
    session: AsyncSession, cipher: FieldCipher, merchant_id: str, upload_id: str, content: bytes
) -> StoreOutcome:
    """Keep the PUT file (again: a second PUT replaces the first) in the caller's unit of work."""
    uploads = StagedUploadRepository(session, merchant_id)
    upload = await uploads.upload_by_id(upload_id)
    if upload is None:
        return StoreOutcome.NOT_FOUND
    if len(content) > upload.file_size:
        return StoreOutcome.TOO_LARGE
    try:
        text = content.decode()
    except UnicodeDecodeError:
        return StoreOutcome.NOT_UTF8
    encrypted = cipher.encrypt(text, context=STAGED_UPLOADS_CONTENT)
    await uploads.store_content(upload_id, encrypted, len(content))
    return StoreOutcome.STORED


async def uploaded_content(
    session: AsyncSession, cipher: FieldCipher, merchant_id: str, upload_id: str, *, now: datetime
) -> bytes:
    """The file of an upload, for an import; ``IMPORT_UPLOAD_NOT_FOUND`` when there is none
    (never PUT, expired, another shop's)."""
    upload = await StagedUploadRepository(session, merchant_id).upload_by_id(upload_id)
    if upload is None or upload.content_encrypted is None or upload.expires_at <= now:
        raise PointsError(
            PointsErrorCode.IMPORT_UPLOAD_NOT_FOUND,
            "upload",
            "no uploaded file by this id: PUT the file to the URL stagedUploadCreate answered",
        )
    return cipher.decrypt(upload.content_encrypted, context=STAGED_UPLOADS_CONTENT).encode()
